import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const SERVER_SCRIPT = fileURLToPath(new URL('../rtsp-server.py', import.meta.url));
/** Debian's python: it has python3-gi; a python earlier on PATH (pyenv, venv) may not. */
const PYTHON = '/usr/bin/python3';
const START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 2_000;

export interface H264ClipOptions {
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Frames between key frames. */
  gop: number;
  /** x264 preset; ultrafast by default (fast to make; cheaper to decode than a real camera's stream). */
  preset?: string;
  /** Target bit rate, e.g. '4M'; x264's default rate control when absent. */
  bitrate?: string;
  /** A still image (e.g. a photo of people) for the whole clip, scaled to width x height; default: test pattern. */
  image?: string;
}

/** Renders ffmpeg's test pattern (or a still image) into a raw H.264 Annex-B stream (what the RTSP server loops). */
export function makeH264Clip(path: string, opts: H264ClipOptions): string {
  const { width, height, fps, seconds, gop } = opts;
  const input = opts.image
    ? ['-loop', '1', '-framerate', String(fps), '-t', String(seconds), '-i', opts.image]
    : ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${fps}:duration=${seconds}`];
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y'],
    ...input,
    ...(opts.image ? ['-vf', `scale=${width}:${height},setsar=1`] : []),
    ...['-c:v', 'libx264', '-preset', opts.preset ?? 'ultrafast', '-pix_fmt', 'yuv420p'],
    ...['-g', String(gop), '-keyint_min', String(gop), '-sc_threshold', '0', '-bf', '0'],
    ...(opts.bitrate ? ['-b:v', opts.bitrate, '-maxrate', opts.bitrate, '-bufsize', opts.bitrate] : []),
    ...['-bsf:v', 'h264_mp4toannexb', '-f', 'h264', path],
  ]);
  return path;
}

export interface RtspServerOptions {
  /** H.264 Annex-B file to loop (see makeH264Clip). */
  file: string;
  /** 0 (default) picks a free port; give the old port to restart a server in the same place. */
  port?: number;
  /** Default '/test'. */
  mount?: string;
  /** Frame rate of the file (Annex-B carries none). Default 10. */
  fps?: number;
  /** Require authentication with these credentials: Basic (default) or Digest. */
  user?: string;
  password?: string;
  auth?: 'basic' | 'digest';
  /** Send media for this many seconds per client, then hold it (0: accept, never answer with media). */
  stallAfterSeconds?: number;
  /** One pipeline for all clients (benchmarks: many clients at a fraction of the server's CPU). */
  shared?: boolean;
}

export interface RtspServer {
  /** rtsp://127.0.0.1:<port><mount>, without credentials. */
  url: string;
  port: number;
  pid: number;
  /** The same URL with credentials in it. */
  urlWith(user: string, password: string, mount?: string): string;
  /** Sends a signal (SIGSTOP / SIGCONT to freeze / thaw it, SIGKILL to make it vanish). */
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (SIGKILL after a grace period); resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts test/rtsp-server.py and resolves once it serves (its "PORT n" line). */
export async function startRtspServer(opts: RtspServerOptions): Promise<RtspServer> {
  const mount = opts.mount ?? '/test';
  const args = [
    SERVER_SCRIPT,
    String(opts.port ?? 0),
    opts.file,
    '--mount',
    mount,
    '--fps',
    String(opts.fps ?? 10),
  ];
  if (opts.user !== undefined) args.push('--user', opts.user, '--password', opts.password ?? '');
  if (opts.auth) args.push('--auth', opts.auth);
  if (opts.stallAfterSeconds !== undefined) args.push('--stall-after', String(opts.stallAfterSeconds));
  if (opts.shared) args.push('--shared');
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  void exited.then(() => running.delete(child));

  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  const port = await new Promise<number>((resolve, reject) => {
    let stdout = '';
    const done = () => {
      clearTimeout(timer);
      child.off('error', onError);
      child.off('exit', onExit);
    };
    const fail = (why: string) => {
      done();
      child.kill('SIGKILL');
      reject(new Error(`RTSP test server ${why}: ${stderr.trim()}`));
    };
    const onError = (err: Error) => fail(`did not start (${err.message})`);
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal})`);
    const timer = setTimeout(() => fail(`printed no port within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('error', onError);
    child.once('exit', onExit);
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const m = /^PORT (\d+)$/m.exec(stdout);
      if (m) {
        done();
        resolve(Number(m[1]));
      }
    });
  });
  child.stdout!.resume();

  const base = `127.0.0.1:${port}`;
  return {
    url: `rtsp://${base}${mount}`,
    port,
    pid: child.pid!,
    urlWith: (user, password, path = mount) =>
      `rtsp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${base}${path}`,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const escalate = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.kill('SIGTERM');
        child.kill('SIGCONT'); // a frozen (SIGSTOPped) server must run to act on SIGTERM
        await exited;
        clearTimeout(escalate);
      }
      await exited;
    },
  };
}

/** A process's command line as ps and every local user see it (/proc/PID/cmdline, NULs as spaces); '' once gone. */
export function commandLineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** PIDs of the direct children of a process (pgrep exits 1 when there are none). */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
