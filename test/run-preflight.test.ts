/** `roomcount run` refuses at start what it cannot run with, promptly, naming the key and file:line:col. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/media.js';

const CLI = path.resolve('src/cli.ts');

/** Runs the CLI in one process (no tsx wrapper to outlive a kill); kills it by its PID after `ms`. */
function cli(args: string[], ms: number): Promise<{ code: number | null; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
      env: { ...process.env, LOG_FORMAT: 'json' },
    });
    let stderr = '';
    let killed = false;
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, killed });
    });
  });
}

describe('roomcount run: stateDir it cannot use', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());
  const config = (stateDir: string) => {
    const file = path.join(tmp.dir, 'roomcount.yaml');
    writeFileSync(
      file,
      [
        'sink: calven',
        'calven: { auth: { type: hmac, apiKey: k, apiSecret: s } }',
        'http: { port: 0 }',
        `stateDir: ${stateDir}`,
        'rooms:',
        '  - { id: r1, locationId: L1, locationType: space, camera: { url: rtsp://192.0.2.1/s } }',
      ].join('\n'),
    );
    return file;
  };

  it('stateDir under /proc: exits 2 at once with the key and file:line:col (it hung, ignoring SIGTERM)', async () => {
    const file = config('/proc/1/nope');
    const { code, stderr, killed } = await cli(['run', '--config', file, '--no-watch'], 15_000);
    expect(killed).toBe(false);
    expect(code).toBe(2);
    expect(stderr).toContain(
      `${file}:4:11: stateDir: /proc/1/nope is under /proc, not a folder on disk: use one such as ./state`,
    );
  });

  it('check-config says the same; a stateDir that is a file is refused too', async () => {
    const file = config('/proc/1/nope');
    const { code, stderr } = await cli(['check-config', '--config', file], 15_000);
    expect(code).toBe(2);
    expect(stderr).toContain(`${file}:4:11: stateDir: /proc/1/nope is under /proc`);
    writeFileSync(path.join(tmp.dir, 'a-file'), 'x');
    const second = await cli(['check-config', '--config', config('a-file/state')], 15_000);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`stateDir: ${path.join(tmp.dir, 'a-file')} is not a folder`);
  });
});
