import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { FfmpegCamera } from '../camera/ffmpeg.js';
import { loadConfig, resolveConfigPaths } from '../config/load.js';
import { createDetector } from '../detect/index.js';
import { createLogger } from '../log.js';
import { redactUrl } from '../redact.js';
import { roomCameraOptions, roomDetectOptions } from '../room.js';
import { configuredThreshold } from './detector-options.js';
import { LiveRooms } from '../setup/live.js';
import { startSetupServer } from '../setup/server.js';
import { saveRoomEdit } from '../setup/yaml-edit.js';

/** Frames per second the page's cameras deliver: it shows one every few seconds, so more only costs CPU. */
const SETUP_FPS = 1;
/** The detector runs with this threshold here (unless the file's is lower), so the page shows near misses. */
export const SHOW_FROM_SCORE = 0.1;
/** 192 bits. */
const TOKEN_BYTES = 24;

export interface SetupOptions {
  configFile: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Offer "Save to FILE" (the region and minScore of a room go into the file). */
  write: boolean;
}

export interface SetupHandle {
  /** The URL to open, token included. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

/** The address to print: the machine's name when listening on every interface, IPv6 in brackets. */
function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return hostname();
  return host.includes(':') ? `[${host}]` : host;
}

/** Starts the setup page's server and its (lazily started) cameras. */
export async function startSetup(opts: SetupOptions): Promise<SetupHandle> {
  const config = loadConfig(opts.configFile);
  const log = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' });
  const showFrom = Math.min(SHOW_FROM_SCORE, config.detector.minScore ?? 1);
  const detector = await createDetector({ ...config.detector, minScore: showFrom }, log);
  const threshold = configuredThreshold(config.detector, detector);
  const roomsById = new Map(config.rooms.map((r) => [r.id, r]));
  const live = new LiveRooms({
    roomIds: config.rooms.map((r) => r.id),
    detector,
    detectOptions: (id) => roomDetectOptions(roomsById.get(id)!),
    makeCamera: (id) =>
      new FfmpegCamera(
        roomCameraOptions(
          roomsById.get(id)!,
          detector.frameLimit(roomDetectOptions(roomsById.get(id)!)),
          SETUP_FPS,
        ),
      ),
  });
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  let server;
  try {
    server = await startSetupServer({
      host: opts.host,
      port: opts.port,
      token,
      file: opts.configFile,
      config,
      live,
      detector: { model: detector.model, backend: detector.backend, showFrom, minScore: threshold },
      cameraLabel: (id) => redactUrl(roomsById.get(id)!.camera.url),
      save: opts.write
        ? (id, edit) => {
            const saved = saveRoomEdit(opts.configFile, id, edit, threshold);
            return { ...saved, config: resolveConfigPaths(saved.config, dirname(opts.configFile)) };
          }
        : undefined,
    });
  } catch (err) {
    await live.close();
    await detector.dispose();
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use (pick another --port)' : (err as Error).message;
    throw new Error(`cannot listen on ${opts.host}:${opts.port}: ${why}`, { cause: err });
  }
  const port = server.port;
  return {
    url: `http://${urlHost(opts.host)}:${port}/?token=${token}`,
    port,
    close: async () => {
      await server.close();
      await live.close();
      await detector.dispose();
    },
  };
}

/** `roomcount setup`: serves the page until SIGINT/SIGTERM (a second one exits at once). */
export async function runSetup(opts: SetupOptions): Promise<void> {
  if (!isLoopback(opts.host)) {
    process.stderr.write(
      `warning: --host ${opts.host} makes the setup page reachable from the network; anyone with its URL sees ` +
        'the cameras. Prefer the default (127.0.0.1) and an SSH tunnel.\n',
    );
  }
  const setup = await startSetup(opts);
  const saving = opts.write ? `; "Save" writes regions into ${opts.configFile}` : '';
  process.stdout.write(
    `Open ${setup.url} to draw each room's region (pictures are only served to this page and never written${saving}; Ctrl+C stops)\n`,
  );
  await new Promise<void>((resolve) => process.once('SIGINT', resolve).once('SIGTERM', resolve));
  const force = () => process.exit(130);
  process.once('SIGINT', force).once('SIGTERM', force);
  await setup.close();
  process.off('SIGINT', force).off('SIGTERM', force);
}
