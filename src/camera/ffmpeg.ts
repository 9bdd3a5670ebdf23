import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { extname } from 'node:path';
import { setPriority } from 'node:os';
import type { Writable } from 'node:stream';
import type { Frame } from './frame.js';
import { PpmStreamParser, type RawPicture, type SkippedPicture } from './ppm.js';
import { safeTimeout } from './timer.js';
import { cameraSource, checkCameraUrl } from './url.js';
import { urlRedactor } from '../redact.js';
import type { FrameLimit } from '../detect/geometry.js';
import { backoffDelay } from '../backoff.js';

/** `invalid`: camera.url cannot be used (see camera/url.ts); nothing is started, the detail says why. */
export type CameraState =
  | 'connecting'
  | 'streaming'
  | 'stalled'
  | 'unauthorised'
  | 'not_found'
  | 'unreachable'
  | 'ended'
  | 'stopped'
  | 'invalid';

export interface CameraOptions {
  /** rtsp://, rtsps://, file: URL or local path (as configured; may hold credentials). */
  url: string;
  transport: 'tcp' | 'udp';
  /** Local files: play again from the start at the end. */
  loop: boolean;
  sampleFps: number;
  /** Frames are scaled down (aspect kept, never up) to this limit: what the detector will look at. */
  limit: FrameLimit;
  /** No frame for this long → ffmpeg is killed and restarted (state 'stalled'). */
  watchdogSeconds: number;
  /**
   * Decode key frames only (ffmpeg -skip_frame nokey): far less CPU. Frames then come at most one per
   * 1/sampleFps slot and only as often as the stream has key frames (never repeated): keep watchdogSeconds above
   * the camera's key frame interval.
   */
  keyframesOnly?: boolean;
  /**
   * Local video files: read at their own speed (-re, default), so they behave like a camera; false reads them as
   * fast as frames are taken (evaluation).
   */
  realtime?: boolean;
  /**
   * Stamp frames with media time instead of the wall clock: capturedAt = mediaEpochMs + index / sampleFps s
   * (the fps filter emits frames exactly 1/sampleFps apart). For evaluation, where files are not read in real
   * time; not with keyframesOnly, whose frames are not evenly spaced.
   */
  mediaEpochMs?: number;
  /**
   * Called after each frame is emitted; the next frame is read only when it resolves, and ffmpeg waits
   * meanwhile (its pipe fills up), so no frame is lost however slow the consumer. The watchdog does not run
   * while it waits. For evaluation; a live camera must not wait (it would fall behind).
   */
  pace?: () => Promise<void>;
  /**
   * Live cameras: asked (with the time) as each frame starts to arrive; false passes the frame over without
   * copying its pixels, and it is announced as `skipped` instead of `frame` (it still feeds the watchdog). A room
   * whose sampler will not take the frame says no (a quiet room takes one in four).
   */
  wants?: (at: number) => boolean;
  ffmpegPath?: string;
  backoff?: { initialMs: number; maxMs: number; healthyMs: number };
  /** SIGTERM → SIGKILL grace when ffmpeg is stopped or restarted. Default 1500 ms. */
  killGraceMs?: number;
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff']);
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000, healthyMs: 60_000 };
const DEFAULT_KILL_GRACE_MS = 1500;

/**
 * Protocols ffmpeg may use for a network camera read through the concat demuxer: the script on a pipe, RTSP over
 * TCP or UDP (RTP), RTSPS (TLS, SRTP).
 */
const NETWORK_PROTOCOLS = 'pipe,rtsp,rtsps,rtp,srtp,tcp,udp,tls';
/** The file descriptor on which a network camera's ffconcat script is handed to ffmpeg. */
const SCRIPT_FD = 3;

/** What ffmpeg needs to open a camera: the part of the command line before the output options. */
export interface FfmpegInput {
  /** rtsp://, rtsps://, file: URL or local path (may hold credentials). */
  url: string;
  transport: 'tcp' | 'udp';
  keyframesOnly?: boolean;
  /**
   * Local files are played at their own speed (-re), looped if asked, still images repeated at sampleFps, so that
   * they behave like a camera. Absent: a file is read once, as fast as ffmpeg can (one snapshot).
   */
  live?: { loop: boolean; sampleFps: number; realtime?: boolean };
}

/**
 * How ffmpeg is started: its arguments and, for a network camera, the ffconcat script it reads on fd 3 (the URL
 * with its credentials: never on the command line, which every local user can read in /proc/PID/cmdline).
 */
export interface FfmpegLaunch {
  args: string[];
  script?: string;
}

/** Options before -i for every input: global, then decoder options. */
function commonInputArgs(opts: FfmpegInput): string[] {
  const input: string[] = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  // Decoder options, so they go before -i. One decoder thread: at 1 fps sampling a camera needs a fraction of a
  // core, and each extra thread keeps its own frame buffers (measured: ~15 MiB less RSS per 1080p camera, same CPU).
  input.push('-threads', '1');
  // P/B frames are not even decoded.
  if (opts.keyframesOnly) input.push('-skip_frame', 'nokey');
  return input;
}

/**
 * A network camera's demuxer options. Small probe: first frame in ~1.4 s instead of ~3 s on a 10 fps stream. No
 * -timeout: ffmpeg 5.1 acts on it only after ~4x its value, and the watchdog covers a silent server anyway.
 */
function rtspOptions(transport: 'tcp' | 'udp'): Array<[string, string]> {
  return [
    ['rtsp_transport', transport],
    ['analyzeduration', '500000'],
    ['probesize', '200000'],
  ];
}

/** One ffconcat line's file name, quoted: inside '…' everything is literal but "'", written '\''. */
const ffconcatQuote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/**
 * The ffconcat script that makes ffmpeg's concat demuxer open one URL with these demuxer options (`option`
 * lines need ffmpeg ≥ 5.0). The URL must hold no line break (camera/url.ts refuses white space in it).
 */
export function ffconcatScript(url: string, options: ReadonlyArray<[string, string]>): string {
  if (/[\r\n]/.test(url)) throw new Error('a URL for an ffconcat script must not hold a line break');
  const lines = ['ffconcat version 1.0', `file ${ffconcatQuote(url)}`];
  for (const [name, value] of options) lines.push(`option ${name} ${value}`);
  return `${lines.join('\n')}\n`;
}

/**
 * The input half of an ffmpeg command line as one would type it to check a camera (global options, decoder
 * options, -i URL). Pure. FfmpegCamera and grabFrame run ffmpegInputLaunch instead, which keeps the URL off argv.
 */
export function ffmpegInputArgs(opts: FfmpegInput): string[] {
  const input = commonInputArgs(opts);
  const source = cameraSource(opts.url);
  if (source.kind === 'network') {
    for (const [name, value] of rtspOptions(opts.transport)) input.push(`-${name}`, value);
    input.push('-i', source.url);
  } else {
    const path = source.path;
    const live = opts.live;
    // -re: files play at their own speed so that they behave like a camera (not for video evaluation).
    const re = live?.realtime === false ? [] : ['-re'];
    if (live && IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) {
      input.push(...re, '-loop', live.loop ? '1' : '0', '-framerate', String(live.sampleFps));
    } else if (live) {
      input.push(...re);
      if (live.loop) input.push('-stream_loop', '-1');
    }
    input.push('-i', path);
  }
  return input;
}

/**
 * How to start ffmpeg's input half. A network camera goes through the concat demuxer reading a script on fd 3
 * (the URL and its RTSP options); a local file's path is on the command line (it holds no secret). Throws a
 * CameraUrlError for a URL that cannot be used.
 */
export function ffmpegInputLaunch(opts: FfmpegInput): FfmpegLaunch {
  const source = cameraSource(opts.url);
  if (source.kind !== 'network') return { args: ffmpegInputArgs(opts) };
  const options = rtspOptions(opts.transport);
  // The outer (concat) input probes what the inner RTSP one hands it: as little.
  const probe = options.filter(([name]) => name !== 'rtsp_transport').flatMap(([n, v]) => [`-${n}`, v]);
  return {
    args: [
      ...commonInputArgs(opts),
      ...probe,
      ...['-f', 'concat', '-safe', '0', '-protocol_whitelist', NETWORK_PROTOCOLS],
      ...['-i', `pipe:${SCRIPT_FD}`],
    ],
    script: ffconcatScript(source.url, options),
  };
}

/**
 * Starts ffmpeg with stdout and stderr piped and, if there is one, the script written to its fd 3 (then closed,
 * so that the concat demuxer sees its end).
 */
export function spawnFfmpeg(command: string, launch: FfmpegLaunch): ChildProcess {
  const child = spawn(command, launch.args, {
    stdio: ['ignore', 'pipe', 'pipe', launch.script === undefined ? 'ignore' : 'pipe'],
  });
  const pipe = child.stdio[SCRIPT_FD] as Writable | null;
  if (pipe && launch.script !== undefined) {
    pipe.on('error', () => {}); // ffmpeg died before reading it: its exit says why
    pipe.end(launch.script);
  }
  return child;
}

/** The input of one camera as FfmpegCamera opens it. */
function cameraInput(opts: CameraOptions): FfmpegInput {
  return {
    url: opts.url,
    transport: opts.transport,
    keyframesOnly: opts.keyframesOnly,
    live: { loop: opts.loop, sampleFps: opts.sampleFps, realtime: opts.realtime },
  };
}

/** The ffmpeg command line for one camera, as one would type it (URL as -i). Pure, so it can be tested. */
export function buildFfmpegArgs(opts: CameraOptions): string[] {
  return [...ffmpegInputArgs(cameraInput(opts)), ...outputArgs(opts)];
}

/** How FfmpegCamera starts ffmpeg: as buildFfmpegArgs, with a network URL on fd 3 instead of argv. */
export function buildFfmpegLaunch(opts: CameraOptions): FfmpegLaunch {
  const input = ffmpegInputLaunch(cameraInput(opts));
  return { ...input, args: [...input.args, ...outputArgs(opts)] };
}

/** Output options: sampling, scaling to the detector's limit, PPM pictures on stdout. */
function outputArgs(opts: CameraOptions): string[] {
  // fps= fills gaps by repeating frames: with key frames only it would hand the detector the same picture
  // several times, late and in bursts. There, keep the first frame of each 1/sampleFps slot instead.
  const f = opts.sampleFps;
  const sample = opts.keyframesOnly
    ? `select='isnan(t)+isnan(prev_selected_t)+lt(t,prev_selected_t)+gt(floor(t*${f}),floor(prev_selected_t*${f}))'`
    : `fps=${f}`;
  const filter = `${sample},${scaleFilter(opts.limit)}`;
  return [
    ...['-an', '-sn', '-dn', '-fps_mode', 'passthrough'],
    // One filter thread (a global option): the default, one per core, scales one frame a second with 4 more
    // threads and their buffers (measured on a 1080p camera: 5 threads → 1, ~0.5 MiB less private memory).
    ...['-filter_threads', '1'],
    ...['-vf', filter, '-f', 'image2pipe', '-c:v', 'ppm', 'pipe:1'],
  ];
}

/**
 * ffmpeg's scale filter for a frame limit: factor f = min(1, shortSide / short side, longSide / long side), each
 * side rounded (as src/detect/geometry.ts limitedSize computes it for image files).
 */
export function scaleFilter(limit: FrameLimit): string {
  const f = `min(1,min(${limit.shortSide}/min(iw,ih),${limit.longSide}/max(iw,ih)))`;
  return `scale=w='max(1,round(iw*${f}))':h='max(1,round(ih*${f}))'`;
}

/** Scheduling priority of the ffmpeg children: the lowest (Unix nice 19). */
export const FFMPEG_NICENESS = 19;

/**
 * Camera decoders yield the CPU to the detector and the reporting. A decoder is latency-tolerant (the socket
 * buffers a late read), the one shared detector is not: measured with 40 1080p cameras (key frames only) on
 * 2 cores, ffmpeg at nice 10 left the detector at 18 ms/frame and 0.88 analysed frames/s per room; at
 * nice 19, 13 ms and 1.00 at less total CPU. When a box is overloaded, rooms get fewer frames (counted as
 * dropped) instead of the whole service, health checks and event delivery included, slowing down.
 */
function lowerPriority(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    setPriority(pid, FFMPEG_NICENESS);
  } catch {
    // Already exited, or not permitted: it runs at our priority, which is only less graceful under overload.
  }
}

/** Classifies ffmpeg's last error lines into a camera state. */
export function classifyFailure(stderr: string): CameraState {
  // URLs out first: a port such as :34041 must not read as a 404.
  const text = stderr.replace(/[a-z][a-z0-9+.-]*:\/\/\S*/gi, ' ');
  if (/\b401\b|unauthori[sz]ed/i.test(text)) return 'unauthorised';
  if (/\b404\b|not found|no such file/i.test(text)) return 'not_found';
  return 'unreachable';
}

/** The ffmpeg executable: the given path, else $FFMPEG_PATH (if not empty), else `ffmpeg` on the PATH. */
export function ffmpegCommand(path?: string, env: NodeJS.ProcessEnv = process.env): string {
  return path ?? (env.FFMPEG_PATH || 'ffmpeg');
}

/** ffmpeg's last error lines (at most 3) as one line, without its "@ 0x55d0..." context addresses. Not redacted. */
export function lastErrorLines(stderr: string): string {
  const lines = stderr
    .replace(/ @ 0x[0-9a-f]+\]/g, ']')
    .trim()
    .split('\n')
    .filter(Boolean);
  return lines.slice(-3).join(' | ');
}

export interface FfmpegCameraEvents {
  frame: [Frame];
  /** A frame arrived that `wants` passed over (at: ms, as a frame's capturedAt). */
  skipped: [number];
  /** Emitted once per change of state, never for a retry that ends as the last one did. */
  state: [CameraState, string];
}

/** One ffmpeg process and what it said. */
interface Run {
  child: ChildProcess;
  parser: PpmStreamParser;
  stderrTail: string;
  /** Set when the watchdog killed it: the state is already 'stalled'. */
  stalled: boolean;
  exited: boolean;
  /** Frames emitted so far (the media clock counts them). */
  frames: number;
  /** With `pace`: pictures parsed but not yet emitted, and the loop emitting them (stdout paused meanwhile). */
  backlog: Array<RawPicture | SkippedPicture>;
  pumping: Promise<void> | undefined;
  /** Resolves on 'close': the process has exited and its stdout/stderr are drained. */
  closed: Promise<void>;
}

/**
 * One ffmpeg process per camera, restarted on any exit (ffmpeg exits 0 when an RTSP server goes away) and by a
 * watchdog when no frame comes, with capped exponential backoff and jitter. Emits decoded frames; keeps none.
 *
 * States: 'connecting' at start (the initial state, so not emitted on a first start()); then 'streaming' or the
 * failure that ended the attempt ('unreachable', 'unauthorised', 'not_found', 'stalled'). Retries are silent: a
 * retry that fails the same way emits nothing; a changed outcome emits the new state.
 */
export class FfmpegCamera extends EventEmitter<FfmpegCameraEvents> {
  private run: Run | undefined;
  private running = false;
  private failures = 0;
  private streamingSince = 0;
  private spawned = 0;
  private frameAt: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private _state: CameraState = 'connecting';
  private _detail = 'starting';
  /** Why camera.url cannot be used, if it cannot (checked once: then nothing is ever started). */
  private readonly problem: string | undefined;
  private readonly backoff: { initialMs: number; maxMs: number; healthyMs: number };
  private readonly killGraceMs: number;
  private readonly redact: (text: string) => string;
  /** The URL with credentials hidden: the only form of it to log or show. */
  readonly redactedUrl: string;

  constructor(private readonly opts: CameraOptions) {
    super();
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
    this.redact = urlRedactor(opts.url);
    this.redactedUrl = this.redact(opts.url);
    this.problem = checkCameraUrl(opts.url);
  }

  get state(): CameraState {
    return this._state;
  }

  /** What the last state change said (ffmpeg's reason, redacted), e.g. `no frame for 10 s: … Invalid data …`. */
  get stateDetail(): string {
    return this._detail;
  }

  /** Wall-clock time (ms since epoch) of the newest frame, undefined before the first one. */
  get lastFrameAt(): number | undefined {
    return this.frameAt;
  }

  /** PID of the running ffmpeg, if any (diagnostics, benchmarks). */
  get pid(): number | undefined {
    return this.run?.child.pid;
  }

  /** How many ffmpeg processes this camera has started. */
  get spawns(): number {
    return this.spawned;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.failures = 0;
    if (this.problem) return this.setState('invalid', this.problem);
    this.setState('connecting', 'starting');
    this.spawnOnce();
  }

  /** Stops ffmpeg (SIGTERM, then SIGKILL after a grace period) and resolves when it has exited. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.restartTimer);
    clearTimeout(this.watchdog);
    const run = this.run;
    this.run = undefined; // from here on its output and exit are ignored
    if (run) await this.terminate(run);
    this.setState('stopped', 'stopped');
  }

  private setState(state: CameraState, detail: string): void {
    if (state === this._state) return;
    this._state = state;
    this._detail = detail;
    this.emit('state', state, detail);
  }

  private spawnOnce(): void {
    this.restartTimer = undefined;
    if (!this.running) return;
    const child = spawnFfmpeg(ffmpegCommand(this.opts.ffmpegPath), buildFfmpegLaunch(this.opts));
    this.spawned++;
    lowerPriority(child.pid);
    let closed!: () => void;
    const run: Run = {
      child,
      parser: new PpmStreamParser(),
      stderrTail: '',
      stalled: false,
      exited: false,
      frames: 0,
      backlog: [],
      pumping: undefined,
      closed: new Promise<void>((resolve) => (closed = resolve)),
    };
    this.run = run;
    this.armWatchdog(run);

    // Read stdout all the time: ffmpeg does not drop frames when its pipe is full, it falls behind.
    child.stdout!.on('data', (chunk: Buffer) => this.onData(run, chunk));
    child.stderr!.on('data', (chunk: Buffer) => {
      run.stderrTail = (run.stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    child.on('exit', () => (run.exited = true));
    // A failed spawn (ffmpeg missing) emits 'error', then 'close' with a negative code.
    child.on('error', (err) => (run.stderrTail = err.message));
    child.on('close', (code, signal) => {
      run.exited = true;
      closed();
      // Paced: the end of the file is news only once its last frames have been taken.
      if (run.pumping) void run.pumping.then(() => this.onClose(run, code, signal));
      else this.onClose(run, code, signal);
    });
  }

  private onData(run: Run, chunk: Buffer): void {
    if (run !== this.run) return;
    let pictures;
    const wants = this.opts.wants;
    try {
      pictures = run.parser.push(chunk, wants && !this.opts.pace ? () => wants(Date.now()) : undefined);
    } catch (err) {
      run.stderrTail = (err as Error).message;
      run.child.kill('SIGKILL');
      return;
    }
    if (this.opts.pace) {
      run.backlog.push(...pictures);
      if (run.backlog.length > 0 && !run.pumping) {
        run.pumping = this.pump(run).finally(() => (run.pumping = undefined));
      }
      return;
    }
    for (const picture of pictures) {
      if (run !== this.run) return; // a frame listener stopped the camera
      this.deliver(run, picture);
    }
  }

  private deliver(run: Run, picture: RawPicture | SkippedPicture): void {
    const now = Date.now();
    const at =
      this.opts.mediaEpochMs === undefined
        ? now
        : this.opts.mediaEpochMs + (run.frames * 1000) / this.opts.sampleFps;
    run.frames++;
    this.frameAt = at;
    this.armWatchdog(run);
    if (this._state !== 'streaming') {
      this.streamingSince = now;
      this.setState('streaming', `${picture.width}x${picture.height}`);
    }
    if ('skipped' in picture) this.emit('skipped', at);
    else this.emit('frame', { ...picture, capturedAt: at });
  }

  /** Emits the backlog one frame at a time, each after `pace` released the previous one; ffmpeg waits. */
  private async pump(run: Run): Promise<void> {
    const stdout = run.child.stdout!;
    stdout.pause();
    try {
      for (let picture = run.backlog.shift(); picture; picture = run.backlog.shift()) {
        if (run !== this.run) return; // stopped
        this.deliver(run, picture);
        clearTimeout(this.watchdog); // waiting for the consumer is not a stalled camera
        await this.opts.pace!();
      }
    } catch (err) {
      run.stderrTail = (err as Error).message;
      run.child.kill('SIGKILL');
      return;
    }
    if (run !== this.run) return;
    this.armWatchdog(run);
    stdout.resume();
  }

  private onClose(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (run !== this.run) return; // stopped: stop() reports
    this.run = undefined;
    clearTimeout(this.watchdog);
    const wasStreaming = this._state === 'streaming';
    if (this.streamingSince && Date.now() - this.streamingSince >= this.backoff.healthyMs) this.failures = 0;
    this.streamingSince = 0;
    if (!run.stalled) {
      const detail = this.redact(lastErrorLines(run.stderrTail)) || `ffmpeg exited (${code ?? signal})`;
      if (cameraSource(this.opts.url).kind === 'file' && !this.opts.loop && code === 0) {
        this.setState('ended', 'end of file');
        return;
      }
      // Exit 0 after frames: the server closed the stream (or went away).
      this.setState(code === 0 && wasStreaming ? 'unreachable' : classifyFailure(detail), detail);
    }
    this.failures++;
    const delay = backoffDelay(this.failures, this.backoff);
    this.restartTimer = safeTimeout(() => this.spawnOnce(), delay);
  }

  private armWatchdog(run: Run): void {
    clearTimeout(this.watchdog);
    this.watchdog = safeTimeout(() => {
      if (run !== this.run) return;
      run.stalled = true;
      // What ffmpeg said meanwhile is the reason (a file that is no picture: "Invalid data found …").
      const said = this.redact(lastErrorLines(run.stderrTail));
      this.setState('stalled', `no frame for ${this.opts.watchdogSeconds} s${said ? `: ${said}` : ''}`);
      void this.terminate(run);
    }, this.opts.watchdogSeconds * 1000);
  }

  /** SIGTERM, then SIGKILL if it has not exited within the grace period (ffmpeg blocked on a socket may not). */
  private terminate(run: Run): Promise<void> {
    if (!run.exited) {
      run.child.kill('SIGTERM');
      const escalate = safeTimeout(() => {
        if (!run.exited) run.child.kill('SIGKILL');
      }, this.killGraceMs);
      void run.closed.then(() => clearTimeout(escalate));
    }
    return run.closed;
  }
}
