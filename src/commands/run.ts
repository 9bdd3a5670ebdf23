import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Config } from '../config/schema.js';
import { checkFfmpeg, ffmpegProblemLine } from '../camera/ffmpeg-check.js';
import { ConfigError, loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../log.js';
import { startService, type Service } from '../service.js';
import { parseShard } from '../shard.js';

const STOP_DEADLINE_MS = 10_000;
const RELOAD_DEBOUNCE_MS = 1000;

/**
 * `roomcount run`: every room until SIGTERM/SIGINT (a second signal exits at once). SIGHUP, or a change of the
 * config file, reloads the rooms; an invalid new config is logged and the running one stays.
 */
export async function runService(opts: {
  configFile: string;
  shard?: string;
  watchConfig?: boolean;
}): Promise<void> {
  const config = loadConfig(opts.configFile, process.env, { preflight: true });
  // A reload checks what it applies: the rooms (the detector and the outbox keep running as they are).
  const read = () => loadConfig(opts.configFile, process.env, { preflight: 'rooms' });
  // Every room needs ffmpeg: without it, stop now with one line saying what to install.
  const ffmpeg = await checkFfmpeg();
  if (ffmpeg) throw new Error(ffmpegProblemLine(ffmpeg));
  const shardText = opts.shard ?? config.shard;
  const shard = shardText === undefined ? undefined : parseShard(shardText);
  const log = createLogger();
  // Signals and file changes are handled from the start: the detector can take seconds to load, and a SIGHUP or
  // an edited file in that time must neither kill the process nor be forgotten.
  let service: Service | undefined;
  let pendingReload: string | undefined;
  let lastHash = fileHash(opts.configFile);
  const reload = (why: string) => {
    const hash = fileHash(opts.configFile);
    if (why === 'file changed' && hash === lastHash) return;
    lastHash = hash;
    if (service) void reloadFrom(service, read, log, why);
    else pendingReload = why;
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  const watcher =
    opts.watchConfig === false ? undefined : watchFile(opts.configFile, () => reload('file changed'));

  let stopRequested!: (signal: string) => void;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  const onSignal = (signal: string) => {
    log.info({ signal }, 'stopping: cameras off, pending events flushed');
    process.removeAllListeners('SIGTERM').removeAllListeners('SIGINT').removeAllListeners('SIGHUP');
    const force = (second: string) => {
      log.warn({ signal: second }, 'second signal: exiting now (pending events stay in the outbox)');
      process.exit(1);
    };
    process.once('SIGTERM', force).once('SIGINT', force);
    watcher?.close();
    stopRequested(signal);
  };
  process.on('SIGTERM', onSignal).on('SIGINT', onSignal);

  try {
    service = await startService(config, { log, shard });
  } catch (err) {
    watcher?.close();
    throw err;
  }
  // Straight to reloadFrom: reload() already recorded the file's new hash, and would take it as unchanged.
  if (pendingReload) void reloadFrom(service, read, log, pendingReload);
  await stopSignal;
  await service.stop(STOP_DEADLINE_MS);
}

async function reloadFrom(service: Service, read: () => Config, log: Logger, why: string): Promise<void> {
  let next: Config;
  try {
    next = read();
  } catch (err) {
    const problems =
      err instanceof ConfigError ? err.problems.map((p) => `${p.line}:${p.col} ${p.path} ${p.message}`) : [];
    log.error(
      { reason: why, problems, err: err instanceof ConfigError ? undefined : (err as Error).message },
      'new configuration rejected; the running one stays',
    );
    return;
  }
  log.info({ reason: why }, 'reloading configuration');
  await service.reload(next);
}

function fileHash(file: string): string {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return '';
  }
}

/** Watches the file's folder (editors and ConfigMaps replace files rather than write them), debounced. */
function watchFile(file: string, onChange: () => void): FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined;
  try {
    const w = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file) && !name.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(onChange, RELOAD_DEBOUNCE_MS);
    });
    w.unref();
    return w;
  } catch {
    return undefined; // not watchable (e.g. some network file systems): SIGHUP still works
  }
}
