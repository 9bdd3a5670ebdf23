import type { Readable } from 'node:stream';
import {
  classifyFailure,
  ffmpegCommand,
  ffmpegInputLaunch,
  lastErrorLines,
  spawnFfmpeg,
  type CameraState,
  type FfmpegInput,
} from './ffmpeg.js';
import type { Frame } from './frame.js';
import { PpmStreamParser } from './ppm.js';
import { safeTimeout } from './timer.js';
import { checkCameraUrl, isNetworkUrl } from './url.js';
import { urlRedactor } from '../redact.js';

export interface GrabOptions extends FfmpegInput {
  /** Give up (and kill ffmpeg) when no picture has come within this long. Default 15 s. */
  timeoutMs?: number;
  ffmpegPath?: string;
}

export const DEFAULT_GRAB_TIMEOUT_MS = 15_000;
const KILL_GRACE_MS = 1500;

/** No picture from a camera; the message names the camera (credentials hidden) and says what to check. */
export class GrabError extends Error {
  constructor(
    message: string,
    /** The camera state the failure means, as `roomcount run` would report it. */
    readonly state: CameraState,
  ) {
    super(message);
    this.name = 'GrabError';
  }
}

/** What to check for each way of failing, in the words of README "Troubleshooting". */
function advice(state: CameraState, network: boolean): string {
  switch (state) {
    case 'unauthorised':
      return 'check the user and password in camera.url (are the environment variables set?)';
    case 'not_found':
      return network
        ? 'check the stream path in camera.url'
        : 'check the path in camera.url (relative to the config file)';
    case 'stalled':
      return 'the camera answered but sent no picture: check that it streams video (open the URL with ffmpeg)';
    case 'ended':
      return 'the file holds no video picture';
    case 'invalid':
      return 'fix camera.url';
    default:
      return network
        ? 'check the address and port, the network and that the camera is on'
        : 'check that the file is a picture or video ffmpeg can read';
  }
}

/**
 * One full-size picture from a camera (RTSP, a video file's first frame, a still image), decoded by ffmpeg to RGB
 * in memory. For operator commands (snapshot): `roomcount run` uses FfmpegCamera. Rejects with a GrabError whose
 * message never shows the camera's credentials.
 */
export function grabFrame(opts: GrabOptions): Promise<Frame> {
  const redact = urlRedactor(opts.url);
  const where = redact(opts.url);
  const network = isNetworkUrl(opts.url);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_GRAB_TIMEOUT_MS;
  const problem = checkCameraUrl(opts.url);
  if (problem) {
    return Promise.reject(new GrabError(`cannot get a picture from ${where}: ${problem}`, 'invalid'));
  }
  const input = ffmpegInputLaunch({
    url: opts.url,
    transport: opts.transport,
    keyframesOnly: opts.keyframesOnly,
  });
  const args = [
    ...input.args,
    ...['-an', '-sn', '-dn', '-frames:v', '1', '-f', 'image2pipe', '-c:v', 'ppm', 'pipe:1'],
  ];
  return new Promise<Frame>((resolve, reject) => {
    const child = spawnFfmpeg(ffmpegCommand(opts.ffmpegPath), { ...input, args });
    const stdout = child.stdout as Readable;
    const stderrStream = child.stderr as Readable;
    const parser = new PpmStreamParser();
    let stderr = '';
    let frame: Frame | undefined;
    let failure: GrabError | undefined;
    let spawnError: NodeJS.ErrnoException | undefined;
    const fail = (state: CameraState, detail: string) => {
      failure ??= new GrabError(
        `cannot get a picture from ${where}: ${state} — ${advice(state, network)}${detail ? ` (${detail})` : ''}`,
        state,
      );
    };
    /** Ends ffmpeg (it exits by itself after one picture; a silent server may keep it blocked). */
    const stop = () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }, KILL_GRACE_MS).unref();
    };
    const timer = safeTimeout(() => {
      fail('stalled', `no picture within ${timeoutMs / 1000} s`);
      stop();
    }, timeoutMs);

    stdout.on('data', (chunk: Buffer) => {
      if (frame || failure) return;
      try {
        const [picture] = parser.push(chunk);
        if (picture) {
          frame = { ...picture, capturedAt: Date.now() };
          stop();
        }
      } catch (err) {
        fail('unreachable', (err as Error).message);
        stop();
      }
    });
    stderrStream.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-2000)));
    child.on('error', (err: NodeJS.ErrnoException) => (spawnError = err));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (frame) return resolve(frame);
      if (spawnError?.code === 'ENOENT') {
        return reject(
          new GrabError(
            `ffmpeg not found (${spawnError.message}): install ffmpeg or set FFMPEG_PATH`,
            'not_found',
          ),
        );
      }
      if (!failure) {
        const detail = redact(lastErrorLines(stderr)) || spawnError?.message || '';
        // A file that ffmpeg read to its end without a picture; anything else it says is classified.
        if (code === 0 && !detail)
          fail(network ? 'unreachable' : 'ended', `ffmpeg exited (${code ?? signal})`);
        else fail(classifyFailure(detail), detail || `ffmpeg exited (${code ?? signal})`);
      }
      reject(failure);
    });
  });
}
