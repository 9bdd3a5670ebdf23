/**
 * vitest globalSetup: checks the system packages the tests need before any test runs. When one is missing it
 * prints what is missing and README's one apt-get line, and stops — rather than dozens of tests failing with
 * `spawn ffmpeg ENOENT` or an RTSP server that cannot start.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { checkFfmpeg } from '../src/camera/ffmpeg-check.js';

const README = new URL('../README.md', import.meta.url);
/** The RTSP test server's python (test/helpers/rtsp.ts): Debian's, which python3-gi installs into. */
const PYTHON = '/usr/bin/python3';
/** The browser the setup page's browser test drives (playwright-core, never a downloaded browser). */
export const CHROMIUM = '/usr/bin/chromium';

/** README's Quick start section, up to the next `## ` heading. */
export function quickStartSection(readme = readFileSync(README, 'utf8')): string {
  const start = readme.indexOf('\n## Quick start\n');
  if (start < 0) throw new Error('README.md has no "## Quick start" section');
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/**
 * README Quick start's install line: the one place the test (and CI) packages are listed. `.ci/run` reads the same
 * line (`sudo apt-get install -y` at the start of a line in that section).
 */
export function quickStartAptLine(readme = readFileSync(README, 'utf8')): string {
  const lines = quickStartSection(readme).match(/^sudo apt-get install -y .+$/gm) ?? [];
  if (lines.length !== 1) {
    throw new Error(
      `README.md Quick start must have one "sudo apt-get install -y …" line, has ${lines.length}`,
    );
  }
  return lines[0]!;
}

export interface Missing {
  /** What the tests need. */
  what: string;
  /** The Debian package (in README's line) that provides it. */
  pkg: string;
  why: string;
}

/**
 * Probes what test/rtsp-server.py needs in one python run; prints `MISSING <key> <reason>` lines. Keys: gi
 * (python3-gi), rtsp (the RTSP server's GObject bindings), or a GStreamer element name (argv).
 */
const GST_PROBE = `
import sys
try:
    import gi
except Exception as e:
    print("MISSING gi", e); sys.exit(0)
try:
    gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
    from gi.repository import Gst, GstRtspServer
except Exception as e:
    print("MISSING rtsp", e); sys.exit(0)
Gst.init(None)
for name in sys.argv[1:]:
    if Gst.ElementFactory.find(name) is None:
        print("MISSING", name, "not installed")
`;

/** GStreamer elements of the test server's pipeline (test/rtsp-server.py), and the Debian package of each. */
const GST_ELEMENTS: Record<string, string> = {
  multifilesrc: 'gstreamer1.0-plugins-good',
  h264parse: 'gstreamer1.0-plugins-bad',
  rtph264pay: 'gstreamer1.0-plugins-good',
};

/** Every Debian package a check can name: README's apt line must have them all. */
export const CHECKED_PACKAGES = [
  'ffmpeg',
  'python3-gi',
  'gir1.2-gst-rtsp-server-1.0',
  ...new Set(Object.values(GST_ELEMENTS)),
  'chromium',
];

function gstreamerProblems(python: string, env: NodeJS.ProcessEnv): Missing[] {
  const gi = { what: `python3-gi for ${python}`, pkg: 'python3-gi' };
  let out: string;
  try {
    out = execFileSync(python, ['-c', GST_PROBE, ...Object.keys(GST_ELEMENTS)], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20_000,
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    const why =
      e.code === 'ENOENT' ? `${python} not found` : (e.stderr?.trim().split('\n').pop() ?? e.message);
    return [{ ...gi, why }];
  }
  return [...out.matchAll(/^MISSING (\S+) (.*)$/gm)].map(([, key, why]): Missing => {
    if (key === 'gi') return { ...gi, why: why! };
    if (key === 'rtsp') {
      return {
        what: 'the GStreamer RTSP server (GstRtspServer 1.0)',
        pkg: 'gir1.2-gst-rtsp-server-1.0',
        why: why!,
      };
    }
    return { what: `GStreamer element ${key}`, pkg: GST_ELEMENTS[key!]!, why: why! };
  });
}

function chromiumProblem(chromium: string): Missing | undefined {
  try {
    accessSync(chromium, constants.X_OK);
    return undefined;
  } catch {
    return { what: `${chromium} (the setup page's browser test)`, pkg: 'chromium', why: 'not found' };
  }
}

/** Everything the tests need that this machine lacks. `python` and `chromium` are for this file's own test. */
export async function missingPrerequisites(
  env: NodeJS.ProcessEnv = process.env,
  { python = PYTHON, chromium = CHROMIUM } = {},
): Promise<Missing[]> {
  const missing: Missing[] = [];
  // The tests run `ffmpeg` from PATH (test/helpers), whatever FFMPEG_PATH says.
  const ffmpeg = await checkFfmpeg({ ...env, FFMPEG_PATH: '' });
  if (ffmpeg) missing.push({ what: 'ffmpeg', pkg: 'ffmpeg', why: ffmpeg.problem.replace(/^ffmpeg /, '') });
  missing.push(...gstreamerProblems(python, env));
  const browser = chromiumProblem(chromium);
  if (browser) missing.push(browser);
  return missing;
}

export function prerequisitesMessage(missing: Missing[], aptLine: string): string {
  return [
    'npm test needs system packages that are missing:',
    ...missing.map((m) => `  - ${m.what}: ${m.why} (package ${m.pkg})`),
    "Install them with README's Quick start line, then run npm test again:",
    `  ${aptLine}`,
  ].join('\n');
}

export default async function setup(): Promise<void> {
  const missing = await missingPrerequisites();
  if (missing.length === 0) return;
  process.stderr.write(`\n${prerequisitesMessage(missing, quickStartAptLine())}\n\n`);
  process.exit(1);
}
