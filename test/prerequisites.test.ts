/** npm test's check of the system packages (test/prerequisites.ts, vitest's globalSetup) and README's apt line. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CHECKED_PACKAGES,
  missingPrerequisites,
  prerequisitesMessage,
  quickStartAptLine,
  quickStartSection,
} from './prerequisites.js';
import { tempDir } from './helpers/media.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function dir(name: string): string {
  const path = join(tmp.dir, name);
  mkdirSync(path, { recursive: true });
  return path;
}

/** A python path with a fake `gi` module that shadows the real one. */
function fakeGi(name: string, source: string): string {
  const path = dir(name);
  writeFileSync(join(path, 'gi.py'), source);
  return path;
}

describe('missingPrerequisites', () => {
  it('ffmpeg not on PATH', async () => {
    const missing = await missingPrerequisites({ ...process.env, PATH: dir('empty-bin') });
    expect(missing).toEqual([{ what: 'ffmpeg', pkg: 'ffmpeg', why: 'not found on PATH' }]);
  });

  it('python3-gi missing', async () => {
    const env = { ...process.env, PYTHONPATH: fakeGi('no-gi', 'raise ImportError("no gi here")') };
    expect(await missingPrerequisites(env)).toEqual([
      { what: 'python3-gi for /usr/bin/python3', pkg: 'python3-gi', why: 'no gi here' },
    ]);
    const noPython = await missingPrerequisites(process.env, { python: '/nonexistent/python3' });
    expect(noPython).toEqual([
      {
        what: 'python3-gi for /nonexistent/python3',
        pkg: 'python3-gi',
        why: '/nonexistent/python3 not found',
      },
    ]);
  });

  it('the GStreamer RTSP server missing', async () => {
    const gi =
      'def require_version(name, version):\n    raise ValueError(f"Namespace {name} not available")\n';
    const missing = await missingPrerequisites({ ...process.env, PYTHONPATH: fakeGi('no-rtsp', gi) });
    expect(missing).toEqual([
      {
        what: 'the GStreamer RTSP server (GstRtspServer 1.0)',
        pkg: 'gir1.2-gst-rtsp-server-1.0',
        why: 'Namespace Gst not available',
      },
    ]);
  });

  it('GStreamer plugins missing: names each element and its package', async () => {
    const none = dir('no-plugins');
    const env = {
      ...process.env,
      GST_PLUGIN_SYSTEM_PATH_1_0: none,
      GST_PLUGIN_PATH_1_0: none,
      GST_REGISTRY_1_0: join(tmp.dir, 'registry.bin'),
    };
    expect((await missingPrerequisites(env)).map((m) => `${m.what} ${m.pkg}`)).toEqual([
      'GStreamer element multifilesrc gstreamer1.0-plugins-good',
      'GStreamer element h264parse gstreamer1.0-plugins-bad',
      'GStreamer element rtph264pay gstreamer1.0-plugins-good',
    ]);
  });

  it('chromium missing', async () => {
    const missing = await missingPrerequisites(process.env, { chromium: '/nonexistent/chromium' });
    expect(missing).toEqual([
      { what: "/nonexistent/chromium (the setup page's browser test)", pkg: 'chromium', why: 'not found' },
    ]);
  });
});

describe("README's Quick start", () => {
  const readme = readFileSync('README.md', 'utf8');

  it('one apt-get line installs every package npm test checks for', () => {
    const packages = quickStartAptLine(readme).split(' ').slice(4);
    expect(packages).toEqual(expect.arrayContaining(CHECKED_PACKAGES));
  });

  it('a second apt-get line in Quick start is an error (.ci/run would not know which to install)', () => {
    const line = quickStartAptLine(readme);
    expect(() => quickStartAptLine(readme.replace(line, `${line}\n${line}`))).toThrow(/has 2/);
  });

  it('says, in this order: the apt-get line, npm install, npm start, npm test', () => {
    const block = /```sh\n([\s\S]*?)```/.exec(quickStartSection(readme))![1]!;
    const commands = block
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/\s+#.*$/, ''));
    expect(commands).toEqual([quickStartAptLine(readme), 'npm install', 'npm start', 'npm test']);
  });

  it(".ci/run installs exactly the Quick start line's packages", () => {
    const ciRun = readFileSync('.ci/run', 'utf8');
    const sed = /^packages="\$\(sed -n '([^']+)' README\.md\)"$/m.exec(ciRun)?.[1];
    expect(sed, '.ci/run reads its package list from README.md with sed').toBeDefined();
    const fromCi = execFileSync('sed', ['-n', sed!, 'README.md'], { encoding: 'utf8' }).trim();
    expect(fromCi).toBe(quickStartAptLine(readme).replace(/^sudo apt-get install -y /, ''));
  });
});

describe('npm test on a machine without ffmpeg', () => {
  it('stops before any test with what is missing and the apt-get line', async () => {
    const bin = dir('node-only');
    symlinkSync(process.execPath, join(bin, 'node'));
    const result = await promisify(execFile)(
      process.execPath,
      ['node_modules/vitest/vitest.mjs', 'run', 'test/redact.test.ts'],
      { env: { ...process.env, PATH: bin, CI: '1' }, timeout: 60_000 },
    ).then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );
    expect(result.code).not.toBe(0);
    const missing = [{ what: 'ffmpeg', pkg: 'ffmpeg', why: 'not found on PATH' }];
    expect(result.stderr).toContain(prerequisitesMessage(missing, quickStartAptLine()));
    expect(result.stdout).not.toMatch(/Test Files|passed/);
  });
});
