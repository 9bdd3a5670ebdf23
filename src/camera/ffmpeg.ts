import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Frame } from './frame.js';
import { PpmStreamParser } from './ppm.js';
import { redactText, redactUrl } from '../redact.js';

export type CameraState =
  'connecting' | 'streaming' | 'stalled' | 'unauthorised' | 'not_found' | 'unreachable' | 'ended' | 'stopped';

export interface CameraOptions {
  /** rtsp://, rtsps://, file: URL or local path (as configured; may hold credentials). */
  url: string;
  transport: 'tcp' | 'udp';
  /** Local files: play again from the start at the end. */
  loop: boolean;
  sampleFps: number;
  /** Frames are scaled down (aspect kept) to fit this box: the detector's input size. */
  fit: { width: number; height: number };
  /** No frame for this long → ffmpeg is killed and restarted. */
  watchdogSeconds: number;
  ffmpegPath?: string;
  backoff?: { initialMs: number; maxMs: number; healthyMs: number };
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff']);
const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 60_000, healthyMs: 60_000 };
const KILL_GRACE_MS = 2000;

export function isNetworkUrl(url: string): boolean {
  return /^rtsps?:\/\//i.test(url);
}

export function localPath(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url;
}

/** The ffmpeg command line for one camera. Pure, so it can be tested without ffmpeg. */
export function buildFfmpegArgs(opts: CameraOptions): string[] {
  const input: string[] = ['-hide_banner', '-nostdin', '-loglevel', 'error'];
  if (isNetworkUrl(opts.url)) {
    // Small probe: first frame in ~1.4 s instead of ~3 s on a 10 fps stream.
    input.push('-rtsp_transport', opts.transport, '-analyzeduration', '500000', '-probesize', '200000');
    input.push('-i', opts.url);
  } else {
    const path = localPath(opts.url);
    // Files play at their own speed (-re) so that they behave like a camera.
    if (IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) {
      input.push('-re', '-loop', opts.loop ? '1' : '0', '-framerate', String(opts.sampleFps));
    } else {
      input.push('-re');
      if (opts.loop) input.push('-stream_loop', '-1');
    }
    input.push('-i', path);
  }
  const { width, height } = opts.fit;
  const filter = `fps=${opts.sampleFps},scale=w=${width}:h=${height}:force_original_aspect_ratio=decrease`;
  return [...input, '-an', '-sn', '-dn', '-vf', filter, '-f', 'image2pipe', '-c:v', 'ppm', 'pipe:1'];
}

/** Classifies ffmpeg's last error lines into a camera state. */
export function classifyFailure(stderr: string): CameraState {
  if (/401|unauthori[sz]ed/i.test(stderr)) return 'unauthorised';
  if (/404|not found|no such file/i.test(stderr)) return 'not_found';
  return 'unreachable';
}

export interface FfmpegCameraEvents {
  frame: [Frame];
  state: [CameraState, string];
}

/**
 * One ffmpeg process per camera, restarted on any exit (ffmpeg exits 0 when an RTSP server goes away) with
 * capped exponential backoff and jitter. Emits decoded frames; keeps none of them.
 */
export class FfmpegCamera extends EventEmitter<FfmpegCameraEvents> {
  private child: ChildProcess | undefined;
  private stopped = false;
  private failures = 0;
  private streamingSince = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stderrTail = '';
  private _state: CameraState = 'connecting';
  private readonly backoff: { initialMs: number; maxMs: number; healthyMs: number };
  readonly redactedUrl: string;

  constructor(private readonly opts: CameraOptions) {
    super();
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
    this.redactedUrl = redactUrl(opts.url);
  }

  get state(): CameraState {
    return this._state;
  }

  start(): void {
    this.stopped = false;
    this.spawnOnce();
  }

  /** Stops ffmpeg (SIGTERM, then SIGKILL after a grace period) and resolves when it has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.restartTimer);
    clearTimeout(this.watchdog);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        const escalate = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
        child.once('exit', () => {
          clearTimeout(escalate);
          resolve();
        });
        child.kill('SIGTERM');
      });
    }
    this.setState('stopped', 'stopped');
  }

  private setState(state: CameraState, detail: string): void {
    if (state === this._state) return;
    this._state = state;
    this.emit('state', state, detail);
  }

  private spawnOnce(): void {
    if (this.stopped) return;
    const parser = new PpmStreamParser();
    this.stderrTail = '';
    const child = spawn(
      this.opts.ffmpegPath ?? process.env.FFMPEG_PATH ?? 'ffmpeg',
      buildFfmpegArgs(this.opts),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.child = child;
    this.armWatchdog();

    child.stdout!.on('data', (chunk: Buffer) => {
      let pictures;
      try {
        pictures = parser.push(chunk);
      } catch (err) {
        this.stderrTail = (err as Error).message;
        child.kill('SIGKILL');
        return;
      }
      for (const picture of pictures) {
        if (this._state !== 'streaming') {
          this.streamingSince = Date.now();
          this.setState('streaming', `${picture.width}x${picture.height}`);
        }
        this.armWatchdog();
        this.emit('frame', { ...picture, capturedAt: Date.now() });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => {
      // spawn failure (ffmpeg missing): 'exit' may not follow.
      this.stderrTail = err.message;
      if (child.exitCode === null) this.onExit(child, null, null);
    });
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private exited = new WeakSet<ChildProcess>();

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited.has(child)) return;
    this.exited.add(child);
    clearTimeout(this.watchdog);
    if (this.stopped) return;
    const detail =
      redactText(this.stderrTail.trim().split('\n').slice(-3).join(' | ')) || `exit ${code ?? signal}`;
    if (!isNetworkUrl(this.opts.url) && !this.opts.loop && code === 0) {
      this.setState('ended', 'end of file');
      return;
    }
    if (this.streamingSince && Date.now() - this.streamingSince >= this.backoff.healthyMs) this.failures = 0;
    this.streamingSince = 0;
    if (this._state !== 'stalled') {
      this.setState(
        code === 0 && this._state === 'streaming' ? 'unreachable' : classifyFailure(detail),
        detail,
      );
    }
    const base = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** this.failures);
    const delay = base / 2 + Math.random() * (base / 2);
    this.failures++;
    this.restartTimer = setTimeout(() => {
      this.setState('connecting', `retry ${this.failures}`);
      this.spawnOnce();
    }, delay);
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      this.setState('stalled', `no frame for ${this.opts.watchdogSeconds} s`);
      const child = this.child;
      child?.kill('SIGTERM');
      setTimeout(() => child?.kill('SIGKILL'), KILL_GRACE_MS).unref();
    }, this.opts.watchdogSeconds * 1000);
  }
}
