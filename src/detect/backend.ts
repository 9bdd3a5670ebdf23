import { createRequire } from 'node:module';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { Logger } from '../log.js';

/** Backends roomcount knows how to set up, fastest first. */
export const TF_BACKENDS = ['tensorflow', 'wasm', 'cpu'] as const;
export type TfBackendName = (typeof TF_BACKENDS)[number];

/** Set to one of TF_BACKENDS to skip auto-selection (e.g. `cpu` in tests, `wasm` to rule out tfjs-node). */
export const TF_BACKEND_ENV = 'ROOMCOUNT_TF_BACKEND';

// A variable, not a literal: tfjs-node is an optional dependency that is often absent, so neither tsc nor a
// bundler may try to resolve it at build time.
const TFJS_NODE: string = '@tensorflow/tfjs-node';

let pending: Promise<string> | undefined;
let announced = false;

/**
 * Picks and initialises the TensorFlow.js backend once per process and returns its name:
 * `tensorflow` (native, from the optional @tensorflow/tfjs-node) if it loads, else `wasm`.
 * `ROOMCOUNT_TF_BACKEND=tensorflow|wasm|cpu` forces one (and fails if it cannot be set up).
 * Concurrent and repeated calls share the same initialisation; a failed one may be retried.
 */
export async function initTfBackend(log?: Logger): Promise<string> {
  pending ??= selectBackend(log).catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  const backend = await pending;
  if (log && !announced) {
    announced = true;
    log.info({ backend, tfjs: tf.version_core }, 'tensorflow.js backend ready');
  }
  return backend;
}

async function selectBackend(log?: Logger): Promise<string> {
  const forced = parseForcedBackend(process.env[TF_BACKEND_ENV]);
  switch (forced) {
    case 'tensorflow':
      await loadTfjsNode().catch((err: unknown) => {
        throw new Error(
          `${TF_BACKEND_ENV}=tensorflow but ${TFJS_NODE} cannot be loaded: ${errorMessage(err)}`,
          {
            cause: err,
          },
        );
      });
      return activate('tensorflow');
    case 'wasm':
      return activateWasm();
    case 'cpu':
      return activateCpu();
    case undefined:
      break;
  }
  try {
    await loadTfjsNode();
    return await activate('tensorflow');
  } catch (err) {
    const notInstalled = isModuleNotFound(err);
    const fields = { reason: errorMessage(err) };
    if (notInstalled) log?.debug(fields, `${TFJS_NODE} is not installed; using the wasm backend`);
    else log?.warn(fields, `${TFJS_NODE} is installed but failed to load; using the slower wasm backend`);
  }
  return activateWasm();
}

function parseForcedBackend(value: string | undefined): TfBackendName | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  if ((TF_BACKENDS as readonly string[]).includes(v)) return v as TfBackendName;
  throw new Error(
    `${TF_BACKEND_ENV}="${value}" is not a known backend; use one of ${TF_BACKENDS.join(', ')}`,
  );
}

async function loadTfjsNode(): Promise<void> {
  // Importing it registers the native 'tensorflow' backend with @tensorflow/tfjs-core.
  await import(TFJS_NODE);
}

async function activateWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!tf.findBackend('wasm')) {
    // Emscripten's Node loader reads the .wasm binaries with fs.readFileSync(prefix + fileName), so the
    // prefix must be a file-system directory path ending in a separator (not a URL). Point it at the
    // package's dist folder explicitly so bundling or a changed cwd cannot break the lookup.
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.dirname(entry) + path.sep);
  }
  const before = processListeners();
  try {
    return await activate('wasm');
  } finally {
    removeEmscriptenListeners(before);
  }
}

const PROCESS_EVENTS = ['uncaughtException', 'unhandledRejection'] as const;
type ProcessListeners = Record<(typeof PROCESS_EVENTS)[number], ((...args: unknown[]) => void)[]>;

function processListeners(): ProcessListeners {
  return {
    uncaughtException: process.listeners('uncaughtException') as ProcessListeners['uncaughtException'],
    unhandledRejection: process.listeners('unhandledRejection') as ProcessListeners['unhandledRejection'],
  };
}

/**
 * The wasm backend's Emscripten glue adds process-wide `uncaughtException` and `unhandledRejection` listeners
 * that rethrow (`function(reason){throw reason}`), and keeps them until the backend is disposed. They would
 * turn any rejection the application handles or logs into a crash that prints the glue's 30 kB minified line.
 * Remove exactly the listeners that appeared while the backend initialised and look like Emscripten's.
 */
function removeEmscriptenListeners(before: ProcessListeners): void {
  const after = processListeners();
  for (const event of PROCESS_EVENTS) {
    for (const fn of after[event]) {
      if (!before[event].includes(fn) && /\bthrow\b/.test(String(fn))) process.removeListener(event, fn);
    }
  }
}

async function activateCpu(): Promise<string> {
  await import('@tensorflow/tfjs-backend-cpu');
  return activate('cpu');
}

async function activate(name: TfBackendName): Promise<string> {
  if (!tf.findBackendFactory(name)) {
    throw new Error(
      `tensorflow.js backend "${name}" is not registered` +
        (name === 'tensorflow' ? ` (does ${TFJS_NODE} use a different @tensorflow/tfjs-core version?)` : ''),
    );
  }
  // setBackend() resolves false (after a console warning) instead of throwing when initialisation fails.
  if (!(await tf.setBackend(name))) {
    throw new Error(`tensorflow.js backend "${name}" failed to initialise`);
  }
  await tf.ready();
  const active = tf.getBackend();
  if (active !== name) throw new Error(`asked tensorflow.js for backend "${name}" but "${active}" is active`);
  return active;
}

/** True when tfjs-node itself is absent (not when it is present but one of its own imports is missing). */
function isModuleNotFound(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
    errorMessage(err).includes(`'${TFJS_NODE}'`)
  );
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
