/** The ffmpeg check `roomcount run` does before starting rooms: one line saying what to install or set. */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { checkFfmpeg, ffmpegProblemLine } from '../src/camera/ffmpeg-check.js';
import { ffmpegCommand } from '../src/camera/ffmpeg.js';

const ffmpegProblem = async (env: NodeJS.ProcessEnv, timeoutMs?: number) => {
  const problem = await checkFfmpeg(env, timeoutMs);
  return problem && ffmpegProblemLine(problem);
};
import { tempDir } from './helpers/media.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** An executable shell script in the temp folder. */
function script(name: string, body: string): string {
  const path = join(tmp.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** A PATH with node on it and nothing else (so no ffmpeg). */
function pathWithoutFfmpeg(): string {
  const dir = join(tmp.dir, 'bin');
  mkdirSync(dir);
  symlinkSync(process.execPath, join(dir, 'node'), 'file');
  return dir;
}

describe('ffmpegCommand', () => {
  it('is the given path, else FFMPEG_PATH when set, else ffmpeg from PATH', () => {
    expect(ffmpegCommand(undefined, { FFMPEG_PATH: '/opt/ffmpeg/bin/ffmpeg' })).toBe(
      '/opt/ffmpeg/bin/ffmpeg',
    );
    expect(ffmpegCommand(undefined, {})).toBe('ffmpeg');
    expect(ffmpegCommand(undefined, { FFMPEG_PATH: '' })).toBe('ffmpeg');
    expect(ffmpegCommand('/usr/local/bin/ffmpeg', { FFMPEG_PATH: '/opt/ffmpeg' })).toBe(
      '/usr/local/bin/ffmpeg',
    );
  });
});

describe('checkFfmpeg', () => {
  it('accepts the installed ffmpeg', async () => {
    expect(await ffmpegProblem({ PATH: process.env.PATH })).toBeUndefined();
  });

  it('ffmpeg not on PATH: says to install it or set FFMPEG_PATH', async () => {
    const problem = await ffmpegProblem({ PATH: join(tmp.dir, 'empty') });
    expect(problem).toBe(
      'ffmpeg not found on PATH: install it (sudo apt-get install ffmpeg) or set FFMPEG_PATH to the ffmpeg program',
    );
  });

  it('FFMPEG_PATH names no file', async () => {
    const problem = await ffmpegProblem({ FFMPEG_PATH: join(tmp.dir, 'nonexistent') });
    expect(problem).toMatch(/^FFMPEG_PATH=\S+nonexistent not found: set FFMPEG_PATH to the ffmpeg program/);
  });

  it('FFMPEG_PATH is not executable (a plain file, a folder)', async () => {
    const plain = join(tmp.dir, 'plain');
    writeFileSync(plain, 'not a program');
    for (const path of [plain, tmp.dir]) {
      expect(await ffmpegProblem({ FFMPEG_PATH: path })).toContain(
        `FFMPEG_PATH=${path} cannot be run (permission denied`,
      );
    }
  });

  it('ffmpeg that exits non-zero: its exit code and first error line', async () => {
    const broken = script(
      'broken',
      'echo "error while loading shared libraries: libavdevice.so.59" >&2\nexit 127',
    );
    expect(await ffmpegProblem({ FFMPEG_PATH: broken })).toBe(
      `FFMPEG_PATH=${broken} does not work (\`${broken} -version\` exited with code 127: error while loading ` +
        'shared libraries: libavdevice.so.59): set FFMPEG_PATH to the ffmpeg program, or unset it to use ffmpeg from PATH',
    );
  });

  it('a program that is not ffmpeg', async () => {
    const other = script('other', 'echo "something else 1.0"');
    expect(await ffmpegProblem({ FFMPEG_PATH: other })).toContain(`FFMPEG_PATH=${other} is not ffmpeg`);
  });

  it('an ffmpeg that never answers is given up on', async () => {
    const hung = script('hung', 'exec sleep 30');
    expect(await ffmpegProblem({ FFMPEG_PATH: hung }, 300)).toContain('gave no answer in 0.3 s');
  });
});

describe('roomcount run without ffmpeg', () => {
  const run = (env: NodeJS.ProcessEnv) =>
    promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli.ts', 'run', '--config', 'config/demo.yaml', '--no-watch'],
      { env: { ...process.env, LOG_FORMAT: 'json', ...env }, timeout: 20_000 },
    ).then(
      () => ({ code: 0, stderr: '', stdout: '' }),
      (err: { code: number; stderr: string; stdout: string }) => err,
    );

  it('FFMPEG_PATH=/nonexistent: exits non-zero with one line naming FFMPEG_PATH, starts no room', async () => {
    const { code, stderr, stdout } = await run({ FFMPEG_PATH: '/nonexistent' });
    expect(code).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'roomcount: FFMPEG_PATH=/nonexistent not found: set FFMPEG_PATH to the ffmpeg program, ' +
        'or unset it to use ffmpeg from PATH\n',
    );
  });

  it('no ffmpeg on PATH: exits non-zero with one line saying what to install', async () => {
    const { code, stderr } = await run({ PATH: pathWithoutFfmpeg(), FFMPEG_PATH: '' });
    expect(code).not.toBe(0);
    expect(stderr).toBe(
      'roomcount: ffmpeg not found on PATH: install it (sudo apt-get install ffmpeg) or set FFMPEG_PATH to the ffmpeg program\n',
    );
  });
});
