import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CocoSsdBase } from '../config/schema.js';
import { COCO_SSD_BASES } from '../config/schema.js';
import { cocoSsdModelUrl, COCO_SSD_DEFAULT_BASE } from '../detect/coco-ssd.js';
import { formatSha256Sums, parseSha256Sums, sha256Hex, SHA256SUMS } from '../detect/model-file.js';
import { makeDirectory } from '../dirs.js';
import { redactUrl } from '../redact.js';
import {
  autoCandidates,
  defaultModelsDir,
  MODEL_DESCRIPTORS,
  modelDescriptor,
  type ModelDescriptor,
} from '../detect/models.js';

export interface FetchCocoSsdOptions {
  base?: string;
  /** Folder to put model.json, its weight shards and SHA256SUMS in (created if needed). */
  dir: string;
  /** model.json URL (or its folder, ending in /) instead of the official one for `base`. */
  url?: string;
  out?: NodeJS.WritableStream;
  /** Per-file timeout. */
  timeoutMs?: number;
}

export interface FetchedFile {
  file: string;
  bytes: number;
  sha256: string;
}

export interface FetchResult {
  dir: string;
  files: FetchedFile[];
  /** true: the folder already had SHA256SUMS and every file matched it; false: hashes were recorded now. */
  verified: boolean;
}

/** Shard names we accept from a downloaded model.json: plain file names, so nothing lands outside DIR. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * `roomcount models fetch coco-ssd`: downloads a coco-ssd graph model (model.json + weight shards) into DIR.
 *
 * Integrity, honestly: roomcount ships no reference hashes for these files (Google publishes none that we
 * could pin, and they could not be checked while this was written). So the first download into DIR records
 * the sha256 of every file in DIR/SHA256SUMS (trust on first use). If DIR already holds a SHA256SUMS (kept
 * from an earlier download, e.g. committed with your deployment), the new download must match it exactly or
 * nothing is installed. roomcount verifies SHA256SUMS again whenever it loads the model from DIR.
 */
export async function fetchCocoSsd(opts: FetchCocoSsdOptions): Promise<FetchResult> {
  const out = opts.out ?? process.stdout;
  const base = (opts.base ?? COCO_SSD_DEFAULT_BASE) as CocoSsdBase;
  if (!(COCO_SSD_BASES as readonly string[]).includes(base)) {
    throw new Error(`--base ${base}: unknown coco-ssd base; use one of ${COCO_SSD_BASES.join(', ')}`);
  }
  const jsonUrl = opts.url
    ? opts.url.endsWith('/')
      ? `${opts.url}model.json`
      : opts.url
    : cocoSsdModelUrl(base);
  const dir = path.resolve(opts.dir);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const sumsPath = path.join(dir, SHA256SUMS);
  const pinned = existsSync(sumsPath)
    ? parseSha256Sums(await readFile(sumsPath, 'utf8'), sumsPath)
    : undefined;

  out.write(`fetching coco-ssd ${base} from ${redactUrl(jsonUrl)}\n`);
  const jsonBytes = await download(jsonUrl, timeoutMs);
  const shards = shardsOf(jsonBytes, jsonUrl);
  const files: { file: string; data: Uint8Array }[] = [{ file: 'model.json', data: jsonBytes }];
  for (const shard of shards) {
    const data = await download(new URL(shard.name, jsonUrl).href, timeoutMs);
    if (shard.bytes !== undefined && data.byteLength !== shard.bytes) {
      throw new Error(
        `${shard.name}: downloaded ${data.byteLength} bytes, model.json needs ${shard.bytes} (truncated download?)`,
      );
    }
    files.push({ file: shard.name, data });
    out.write(`  ${shard.name} (${data.byteLength} bytes)\n`);
  }
  const fetched = files.map((f) => ({ file: f.file, bytes: f.data.byteLength, sha256: sha256Hex(f.data) }));

  if (pinned) {
    const problems: string[] = [];
    for (const f of fetched) {
      const want = pinned.get(f.file);
      if (want === undefined) problems.push(`${f.file} is not listed`);
      else if (want !== f.sha256) problems.push(`${f.file} has sha256 ${f.sha256}, pinned ${want}`);
    }
    for (const name of pinned.keys()) {
      if (!fetched.some((f) => f.file === name))
        problems.push(`${name} is pinned but no longer part of the model`);
    }
    if (problems.length) {
      throw new Error(
        `the download does not match the hashes pinned in ${sumsPath}; nothing was installed:\n  ` +
          problems.join('\n  ') +
          `\n(if the model was updated upstream on purpose, delete ${sumsPath} and fetch again)`,
      );
    }
  }

  // Write everything to a temporary folder inside DIR, then move it in: no half-installed model on failure.
  makeDirectory(dir);
  const tmp = path.join(dir, `.fetch-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    for (const f of files) await writeFile(path.join(tmp, f.file), f.data);
    if (!pinned) await writeFile(path.join(tmp, SHA256SUMS), formatSha256Sums(fetched));
    for (const f of files) await rename(path.join(tmp, f.file), path.join(dir, f.file));
    if (!pinned) await rename(path.join(tmp, SHA256SUMS), sumsPath);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }

  out.write(formatSha256Sums(fetched).replace(/^/gm, '  '));
  if (pinned) {
    out.write(`verified: all ${fetched.length} files match ${sumsPath} (pinned earlier)\n`);
  } else {
    out.write(
      `recorded the sha256 of ${fetched.length} files in ${sumsPath}.\n` +
        'Note: roomcount has no published reference hashes for these files, so these were NOT checked against a\n' +
        'known-good value; they record what was downloaded now (trust on first use). Keep SHA256SUMS with the\n' +
        'model (e.g. commit it): later fetches into a folder holding it must match, and roomcount checks it\n' +
        'every time it loads the model.\n',
    );
  }
  out.write(`use it with:\n  detector:\n    model: coco-ssd\n    base: ${base}\n    modelPath: ${dir}\n`);
  return { dir, files: fetched, verified: pinned !== undefined };
}

/** The weight shard files a model.json lists, with their expected byte sizes when known. */
function shardsOf(jsonBytes: Uint8Array, url: string): { name: string; bytes: number | undefined }[] {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(jsonBytes));
  } catch (err) {
    throw new Error(`${redactUrl(url)} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const manifest = (json as { modelTopology?: unknown; weightsManifest?: unknown } | null)?.weightsManifest;
  if (
    typeof (json as { modelTopology?: unknown } | null)?.modelTopology !== 'object' ||
    !Array.isArray(manifest)
  ) {
    throw new Error(`${redactUrl(url)} is not a TensorFlow.js model.json (no modelTopology/weightsManifest)`);
  }
  const shards: { name: string; bytes: number | undefined }[] = [];
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    const paths = Array.isArray(group?.paths) ? (group.paths as unknown[]) : [];
    const weights = Array.isArray(group?.weights) ? (group.weights as Record<string, unknown>[]) : [];
    const total = groupBytes(weights);
    for (const p of paths) {
      if (typeof p !== 'string' || !SAFE_NAME.test(p)) {
        throw new Error(
          `${redactUrl(url)} lists a weights file "${String(p)}" that is not a plain file name; refusing`,
        );
      }
      shards.push({ name: p, bytes: paths.length === 1 ? total : undefined });
    }
  }
  return shards;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, float16: 2, uint16: 2, uint8: 1 };

function groupBytes(weights: Record<string, unknown>[]): number | undefined {
  let total = 0;
  for (const w of weights) {
    const q = w.quantization as { dtype?: string } | undefined;
    const size = BYTES[q?.dtype ?? String(w.dtype)];
    if (size === undefined || !Array.isArray(w.shape)) return undefined;
    total += (w.shape as number[]).reduce((n, d) => n * d, 1) * size;
  }
  return total;
}

export interface FetchModelOptions {
  /** Folder to install into; default the models folder (`auto` and detector.model look there). */
  dir?: string;
  /** Download from this URL (a mirror) instead of the pinned one; the pinned sha256 still applies. */
  url?: string;
  out?: NodeJS.WritableStream;
  /** Progress lines. */
  err?: NodeJS.WritableStream;
  timeoutMs?: number;
}

/**
 * `roomcount models fetch MODEL` for an ONNX model: downloads its pinned URL (or a mirror), checks the size and
 * the pinned sha256, and only then moves the file into the models folder (atomically: a failed or wrong download
 * leaves nothing behind, and an installed file is never replaced by a bad one). A file already installed with the
 * right hash is kept. Returns the installed path.
 */
export async function fetchModel(name: string, opts: FetchModelOptions = {}): Promise<string> {
  const out = opts.out ?? process.stdout;
  const err = opts.err ?? process.stderr;
  const d = modelDescriptor(name);
  if (!d.weights) {
    throw new Error(
      d.bundled
        ? `${d.name} ships with roomcount (inside an npm package); nothing to fetch`
        : `${d.name} has no pinned download; see README "Models and accuracy"`,
    );
  }
  const w = d.weights;
  const dir = path.resolve(opts.dir ?? defaultModelsDir());
  const target = path.join(dir, w.file);
  if (existsSync(target) && sha256Hex(await readFile(target)) === w.sha256) {
    out.write(`${d.name}: already installed and verified: ${target}\n`);
    return target;
  }
  const url = opts.url ?? w.url;
  err.write(`${d.name}: downloading ${redactUrl(url)} (${formatBytes(w.bytes)})\n`);
  const data = await download(url, opts.timeoutMs ?? 300_000, (got) =>
    err.write(`\r  ${formatBytes(got)} of ${formatBytes(w.bytes)} (${Math.floor((100 * got) / w.bytes)} %)`),
  );
  err.write('\n');
  const actual = sha256Hex(data);
  if (data.byteLength !== w.bytes || actual !== w.sha256) {
    throw new Error(
      `${d.name}: the download from ${redactUrl(url)} is not the pinned file (got ${data.byteLength} bytes, ` +
        `sha256 ${actual}; expected ${w.bytes} bytes, sha256 ${w.sha256}); nothing was installed` +
        (existsSync(target) ? ` and ${target} was left as it was` : ''),
    );
  }
  makeDirectory(dir);
  const tmp = path.join(dir, `.${w.file}.${process.pid}.part`);
  try {
    await writeFile(tmp, data);
    await chmod(tmp, 0o644);
    await rename(tmp, target);
  } finally {
    await rm(tmp, { force: true });
  }
  out.write(
    `${d.name}: installed ${target} (sha256 ${w.sha256} verified)\n` +
      (opts.dir && path.resolve(opts.dir) !== defaultModelsDir()
        ? `not the default models folder: set detector.model: ${d.name} and detector.modelPath: ${target}\n`
        : `detector.model auto now uses ${autoCandidates(dir)[0]!.name}; restart roomcount to apply\n`),
  );
  return target;
}

/** `roomcount models fetch MODEL`: coco-ssd's files into --dir (required), any other model's pinned file. */
export async function modelsFetchCommand(
  model: string,
  opts: { dir?: string; base: string; url?: string },
): Promise<void> {
  if (model !== 'coco-ssd') {
    await fetchModel(model, { dir: opts.dir, url: opts.url });
    return;
  }
  if (!opts.dir) throw new Error('models fetch coco-ssd needs --dir DIR (the folder to put its files in)');
  await fetchCocoSsd({ base: opts.base, dir: opts.dir, url: opts.url });
}

/** `roomcount models list`: every model, whether it is installed, and what `auto` picks. */
export function listModels(out: NodeJS.WritableStream = process.stdout, dir = defaultModelsDir()): void {
  const auto = autoCandidates(dir)[0]!.name;
  const rows = (MODEL_DESCRIPTORS as readonly ModelDescriptor[]).map((d) => {
    const state = d.bundled
      ? 'bundled'
      : d.weights
        ? existsSync(path.join(dir, d.weights.file))
          ? 'installed'
          : `not installed (roomcount models fetch ${d.name})`
        : 'weights fetched into a folder of your choice (models fetch coco-ssd --dir DIR)';
    return `${d.name === auto ? '*' : ' '} ${d.name.padEnd(13)} ${state}\n    ${d.title}`;
  });
  out.write(`models folder: ${dir}\n${rows.join('\n')}\n* = what detector.model auto uses now\n`);
}

function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.round(n / 1e3)} kB`;
}

async function download(
  url: string,
  timeoutMs: number,
  progress?: (bytes: number) => void,
): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    const cause = (err as { cause?: { message?: string; code?: string } }).cause;
    const why = cause?.message ?? cause?.code ?? (err as Error).message;
    throw new Error(`GET ${redactUrl(url)} failed: ${why}`, { cause: err });
  }
  if (!res.ok) throw new Error(`GET ${redactUrl(url)}: HTTP ${res.status} ${res.statusText}`);
  if (!progress || !res.body) return new Uint8Array(await res.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let got = 0;
  let shown = -1;
  try {
    for await (const chunk of res.body) {
      chunks.push(chunk);
      got += chunk.byteLength;
      const step = Math.floor(got / 500_000);
      if (step !== shown) {
        shown = step;
        progress(got);
      }
    }
  } catch (err) {
    throw new Error(`GET ${redactUrl(url)} failed after ${got} bytes: ${(err as Error).message}`, {
      cause: err,
    });
  }
  progress(got);
  return Buffer.concat(chunks);
}
