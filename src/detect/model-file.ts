import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelPathKind } from './models.js';

/** Name of the checksum file `roomcount models fetch` writes next to downloaded weights (sha256sum format). */
export const SHA256SUMS = 'SHA256SUMS';

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a model file; the error names the file and says why (not found, permission, directory). */
export async function readModelFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`cannot read model file ${file}: ${fsReason(err)}`, { cause: err });
  }
}

/** Throws unless `data` (the bytes of `file`) has the expected sha256; `hint` says how to fix a mismatch. */
export function verifySha256(file: string, data: Uint8Array, expected: string, hint = ''): void {
  const actual = sha256Hex(data);
  if (actual !== expected.toLowerCase()) {
    throw new Error(
      `model file ${file} has sha256 ${actual}, expected ${expected.toLowerCase()} ` +
        `(${data.byteLength} bytes; wrong, truncated or modified file?)${hint ? `. ${hint}` : ''}`,
    );
  }
}

/** One `HEX  NAME` line per file, as `sha256sum` prints and `sha256sum -c` checks. */
export function formatSha256Sums(entries: readonly { file: string; sha256: string }[]): string {
  return entries.map((e) => `${e.sha256}  ${e.file}\n`).join('');
}

/** Parses a sha256sum-style file (text or binary mode marker); names the file and line on errors. */
export function parseSha256Sums(text: string, file: string): Map<string, string> {
  const sums = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim() || line.startsWith('#')) return;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line);
    if (!m) throw new Error(`${file}:${i + 1}: expected "<64 hex digits>  <file name>", got "${line}"`);
    sums.set(m[2]!, m[1]!.toLowerCase());
  });
  return sums;
}

/**
 * When `dir` holds a SHA256SUMS file, checks every file it lists and returns how many were checked; returns
 * undefined when there is no SHA256SUMS. Errors name the file that does not match.
 */
export async function verifySha256SumsIn(dir: string): Promise<number | undefined> {
  const sumsFile = path.join(dir, SHA256SUMS);
  let text: string;
  try {
    text = await readFile(sumsFile, 'utf8');
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${sumsFile}: ${fsReason(err)}`, { cause: err });
  }
  const sums = parseSha256Sums(text, sumsFile);
  for (const [name, expected] of sums) {
    const file = path.resolve(dir, name);
    verifySha256(file, await readModelFile(file), expected, `Checksums from ${sumsFile}`);
  }
  return sums.size;
}

export function fsReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'file not found';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}

/** A tfjs model.json (its graph, without the weights) is a few MB at most. */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

/** Why a tfjs model.json is not one: not JSON, or without a graph and weights manifest. A FIFO is not read. */
function modelJsonProblem(file: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    return `${file}: ${fsReason(err)}`;
  }
  if (!st.isFile() || st.size > MAX_MODEL_JSON_BYTES) return undefined; // the loader will say
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file} is not a tfjs model.json: ${err instanceof SyntaxError ? 'not JSON' : fsReason(err)}`;
  }
  const ok =
    typeof json === 'object' && json !== null && 'modelTopology' in json && 'weightsManifest' in json;
  return ok ? undefined : `${file} is not a tfjs model.json (no modelTopology and weightsManifest)`;
}

/** ONNX files are protobuf ModelProtos, which start with field 1 (ir_version, a varint): tag byte 0x08. */
const ONNX_FIRST_BYTE = 0x08;
/** Smaller than any real detector (the smallest we ship is 3.6 MB): a placeholder or a cut file. */
const MIN_ONNX_BYTES = 1024;

/**
 * Why `file` cannot be the weights a model of this kind loads (undefined: it may be). Cheap and synchronous, for
 * checks before start (`check-config`, `run`): existence, file or folder, and for ONNX a size and first-byte sanity
 * check, for a model.json that it parses and has a graph (a FIFO or a huge file is left to the loader).
 */
export function modelPathProblem(kind: ModelPathKind, file: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    return `${file}: ${fsReason(err)}`;
  }
  if (st.isDirectory()) {
    if (kind !== 'model.json or folder') return `${file} is a folder; name the ${kind} file in it`;
    const json = path.join(file, 'model.json');
    return existsSync(json) ? modelJsonProblem(json) : `${file} holds no model.json`;
  }
  if (kind !== 'onnx') return modelJsonProblem(file);
  if (!st.isFile()) return `${file} is not a regular file`;
  if (st.size < MIN_ONNX_BYTES) return `${file} is ${st.size} bytes: too small to be an ONNX model`;
  const first = Buffer.alloc(1);
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    readSync(fd, first, 0, 1, 0);
  } catch (err) {
    return `cannot read model file ${file}: ${fsReason(err)}`;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return first[0] === ONNX_FIRST_BYTE ? undefined : `${file} is not an ONNX model (a text or other file?)`;
}
