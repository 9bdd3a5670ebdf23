import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, isMap, isNode, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node } from 'yaml';
import type { z } from 'zod';
import { redactUrl } from '../redact.js';
import { hasUrlScheme } from '../camera/url.js';
import { scalarKey, substituteEnv } from './env.js';
import { preflight, type PreflightScope } from './preflight.js';
import {
  ConfigError,
  describe,
  formatPath,
  humanize,
  humanizeIssue,
  isObj,
  sortUnique,
  syntaxMessage,
  unknownKey,
  unwrapUnion,
  type ConfigProblem,
  type Seg,
} from './problems.js';
import { configSchema, keysAt, roomShape, type Config } from './schema.js';

export { ConfigError, type ConfigProblem } from './problems.js';

type Obj = Record<string, unknown>;

/** Keys a room may take from `defaults:`. */
const DEFAULTABLE = Object.keys(roomShape).filter((k) => k !== 'id' && k !== 'locationId');

/** Larger than any real config (a thousand rooms take ~200 KiB): refused before it is read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export interface LoadOptions {
  /**
   * Also check what `roomcount run` needs (see preflight.ts): `true` all it needs at start (model weights, camera
   * URLs, outbox folder), `'rooms'` what a reload applies (the rooms' camera URLs: the detector and the outbox
   * are already running, and a change of theirs needs a restart).
   */
  preflight?: boolean | PreflightScope;
}

/**
 * Reads and validates a config file; relative paths (camera files, stateDir, detector.modelPath) are resolved
 * against the file's folder. Every problem is a ConfigError with file:line:col.
 */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  opts: LoadOptions = {},
): Config {
  const fail = (message: string) => new ConfigError([{ file, line: 1, col: 1, path: '', message }]);
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) throw fail(tooLarge(size));
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw fail(`cannot read config file: ${why}`);
  }
  const { config, position } = parse(text, file, env);
  const resolved = resolveConfigPaths(config, dirname(file));
  const problems = opts.preflight
    ? preflight(resolved, undefined, opts.preflight === true ? 'start' : opts.preflight)
    : [];
  if (problems.length) {
    throw new ConfigError(
      sortUnique(
        problems.map((p) => ({ file, ...position(p.path), path: formatPath(p.path), message: p.message })),
      ),
    );
  }
  return resolved;
}

const tooLarge = (bytes: number) =>
  `the file is ${bytes} bytes; a configuration may be at most ${MAX_CONFIG_BYTES} (1 MiB)`;

/** Relative paths in a config file (camera files, stateDir, modelPath) are relative to that file's folder. */
export function resolveConfigPaths(config: Config, configDir: string): Config {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(configDir, p));
  return {
    ...config,
    stateDir: abs(config.stateDir),
    detector: {
      ...config.detector,
      ...(config.detector.modelPath && { modelPath: abs(config.detector.modelPath) }),
    },
    rooms: config.rooms.map((room) => {
      const url = room.camera.url;
      const local = !hasUrlScheme(url);
      return local ? { ...room, camera: { ...room.camera, url: abs(url) } } : room;
    }),
  };
}

/** Validates config text; `file` is only named in problems. Paths stay as written (see loadConfig). */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  return parse(text, file, env).config;
}

function parse(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
): { config: Config; position: (path: readonly Seg[]) => { line: number; col: number } } {
  if (text.length > MAX_CONFIG_BYTES) {
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: tooLarge(text.length) }]);
  }
  const lineCounter = new LineCounter();
  // merge: YAML 1.1 merge keys (`<<: *defaults`), which many hand-written configs use.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true });
  const problems: ConfigProblem[] = [];
  const add = (offset: number, path: readonly Seg[], message: string): void => {
    const { line, col } = lineCounter.linePos(offset);
    problems.push({ file, line: Math.max(line, 1), col: Math.max(col, 1), path: formatPath(path), message });
  };

  // After the first syntax error the parser's further complaints are mostly echoes of it: report duplicate keys
  // and that first error.
  const firstSyntaxError = doc.errors.find((err) => err.code !== 'DUPLICATE_KEY');
  for (const err of doc.errors.filter((e) => e === firstSyntaxError || e.code === 'DUPLICATE_KEY')) {
    add(
      err.pos[0],
      [],
      err === firstSyntaxError
        ? syntaxMessage(err.message, text, err.pos[0])
        : `duplicate key "${keyAt(doc, err.pos[0])}"`,
    );
  }
  if (problems.length) throw new ConfigError(sortUnique(problems));

  // Aliases may be used freely, as long as what they expand to stays the size of a real config ("billion laughs").
  const bomb = aliasBomb(doc);
  if (bomb) {
    add(
      bomb.range?.[0] ?? 0,
      [],
      `aliases here expand the document to more than ${MAX_EXPANDED_NODES} values; ` +
        'use fewer (or less deeply nested) aliases',
    );
    throw new ConfigError(problems);
  }

  const { failed: envFailed, substituted } = substituteEnv(doc, env, (node, path, name) =>
    add(node.range?.[0] ?? 0, path, `environment variable "${name}" is not set`),
  );

  // Apply `defaults:` to every room; unknown keys under defaults are reported here, once.
  const raw: unknown = doc.toJS({ maxAliasCount: -1 }) ?? {};
  const defaultsSpot = walk(doc, doc.contents, [], ['defaults']);
  const defaultsNode = defaultsSpot.rest.length ? undefined : defaultsSpot.node;
  let data = raw;
  if (isObj(raw)) {
    const { defaults = {}, ...rest } = raw;
    if (defaults !== null && !isObj(defaults)) {
      add(offsetOf(defaultsSpot), ['defaults'], `expected mapping, got ${describe(defaults)}`);
    }
    const known = isObj(defaults) ? pick(defaults, DEFAULTABLE) : {};
    for (const pair of isMap(defaultsNode) ? defaultsNode.items : []) {
      const key = scalarKey(pair.key);
      if (DEFAULTABLE.includes(key)) continue;
      const message = ['id', 'locationId'].includes(key)
        ? `"${key}" cannot be set under defaults (set it in each room)`
        : unknownKey(key, DEFAULTABLE);
      add(isNode(pair.key) ? (pair.key.range?.[0] ?? 0) : 0, ['defaults', key], message);
    }
    const rooms = Array.isArray(rest.rooms)
      ? rest.rooms.map((r) => (isObj(r) ? merge(known, r) : r))
      : rest.rooms;
    data = { ...rest, rooms };
  }

  /** The YAML node a schema path came from: the room's own node, else the one under `defaults:`. */
  const locate = (path: readonly Seg[]): Spot => {
    const own = walk(doc, doc.contents, [], path);
    if (!own.rest.length || path[0] !== 'rooms' || path.length < 3) return own;
    const fromDefaults = walk(doc, defaultsNode, ['defaults'], path.slice(2));
    return fromDefaults.rest.length ? own : fromDefaults;
  };

  const result = configSchema.safeParse(data, { reportInput: true, error: humanize });
  for (const issue of (result.error?.issues ?? []).flatMap(unwrapUnion)) {
    const path = issue.path.filter((s): s is Seg => typeof s !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const spot = locate([...path, key]);
        const offset = isNode(spot.key) ? (spot.key.range?.[0] ?? 0) : offsetOf(spot);
        add(offset, spot.at, unknownKey(key, keysAt(configSchema, path)));
      }
      continue;
    }
    const spot = locate(path);
    if (envFailed.has(spot.node)) continue; // already reported as a missing variable
    if (issue.code !== 'custom' && issue.input === undefined && typeof path.at(-1) === 'string') {
      // A key that is not there: zod reports it as a wrong type, or for an enum as a wrong value (of undefined).
      const values = issue.code === 'invalid_value' ? ` (one of ${issue.values.join(', ')})` : '';
      add(offsetOf(spot, false), spot.at, `missing required key "${spot.rest.join('.')}"${values}`);
    } else if (substituted.has(spot.node)) {
      // A value from the environment may be a secret: say what is wrong with it without showing it.
      const message = humanizeIssue(issue as z.core.$ZodRawIssue, true) ?? issue.message;
      add(offsetOf(spot), spot.at, message);
    } else {
      add(offsetOf(spot), spot.at, issue.message);
    }
  }

  // Here rather than in the schema, which would skip this refinement whenever any other key is wrong.
  if (isObj(data) && Array.isArray(data.rooms)) {
    const seen = new Map<unknown, number>();
    data.rooms.forEach((room: unknown, i: number) => {
      const id = isObj(room) ? room.id : undefined;
      if (typeof id !== 'string') return;
      const first = seen.get(id);
      if (first === undefined) seen.set(id, i);
      else
        add(
          offsetOf(locate(['rooms', i, 'id'])),
          ['rooms', i, 'id'],
          `duplicate room id "${id}" (also rooms[${first}])`,
        );
    });
  }

  if (problems.length) throw new ConfigError(sortUnique(problems));
  const position = (path: readonly Seg[]) => {
    const { line, col } = lineCounter.linePos(offsetOf(locate(path)));
    return { line: Math.max(line, 1), col: Math.max(col, 1) };
  };
  return { config: result.data as Config, position };
}

/** A deep copy that is safe to print: API secrets hidden, credentials in camera, Calven and model URLs redacted. */
export function maskConfig(cfg: Config): unknown {
  const out = structuredClone(cfg);
  const auth = out.calven?.auth;
  if (auth?.type === 'hmac') {
    auth.apiKey = auth.apiKey.length > 8 ? `${auth.apiKey.slice(0, 4)}…` : '***';
    auth.apiSecret = '***';
  } else if (auth?.type === 'oauth') {
    auth.clientSecret = '***';
  }
  for (const room of out.rooms) room.camera.url = redactUrl(room.camera.url);
  if (out.calven) out.calven.baseUrl = redactUrl(out.calven.baseUrl);
  if (out.detector.modelUrl) out.detector.modelUrl = redactUrl(out.detector.modelUrl);
  return out;
}

/** A document of a thousand rooms has ~30,000 values; anything past this is an alias expansion attack. */
export const MAX_EXPANDED_NODES = 1_000_000;

/**
 * The alias at which the document, with every alias expanded, grows past MAX_EXPANDED_NODES values (or that refers
 * to a node containing itself); undefined when it stays below. Linear: each node's expanded size is counted once.
 */
function aliasBomb(doc: Document): Node | undefined {
  const sizes = new Map<unknown, number>();
  let culprit: Node | undefined;
  const size = (node: unknown): number => {
    if (culprit) return Infinity;
    const known = sizes.get(node);
    if (known !== undefined) return known;
    sizes.set(node, Infinity); // while counting: an alias back into this node never ends
    let n = 1;
    if (isAlias(node)) {
      n = size(node.resolve(doc));
      if (n > MAX_EXPANDED_NODES) culprit ??= node;
    } else if (isMap(node)) {
      for (const pair of node.items) n += size(pair.key) + size(pair.value);
    } else if (isSeq(node)) {
      for (const item of node.items) n += size(item);
    }
    sizes.set(node, n);
    return n;
  };
  const total = size(doc.contents);
  return culprit ?? (total > MAX_EXPANDED_NODES ? (doc.contents ?? undefined) : undefined);
}

/** The text of the map key that starts at `offset`. */
function keyAt(doc: Document, offset: number): string {
  let found = '';
  visit(doc, {
    Pair(_, pair) {
      if (isNode(pair.key) && pair.key.range?.[0] === offset) {
        found = scalarKey(pair.key);
        return visit.BREAK;
      }
    },
  });
  return found;
}

interface Spot {
  /** The deepest node reached (a value node, or null/undefined for an empty one). */
  node: unknown;
  /** The key node of the pair that led to `node`, if any. */
  key?: unknown;
  /** Path of `node`. */
  at: Seg[];
  /** The part of the wanted path that does not exist in the YAML. */
  rest: Seg[];
}

function walk(doc: Document, node: unknown, at: Seg[], path: readonly Seg[]): Spot {
  let spot: Spot = { node, at, rest: [...path] };
  for (const [i, seg] of path.entries()) {
    const cur = isAlias(spot.node) ? spot.node.resolve(doc) : spot.node;
    const pair = isMap(cur) ? cur.items.find((p) => scalarKey(p.key) === String(seg)) : undefined;
    const item = isSeq(cur) && typeof seg === 'number' ? cur.items[seg] : undefined;
    if (!pair && item === undefined) break;
    spot = { node: pair ? pair.value : item, key: pair?.key, at: [...spot.at, seg], rest: path.slice(i + 1) };
  }
  return spot;
}

/** Offset of a spot's value; an empty value (`key:`) points at its key unless `preferKey` is false. */
function offsetOf(spot: Spot, preferKeyForEmpty = true): number {
  const range = isNode(spot.node) ? spot.node.range : undefined;
  const keyStart = isNode(spot.key) ? spot.key.range?.[0] : undefined;
  if (range && (range[0] < range[1] || !preferKeyForEmpty || keyStart === undefined)) return range[0];
  return keyStart ?? 0;
}

const pick = (o: Obj, keys: readonly string[]): Obj =>
  Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));

/** Deep merge of mappings; `over` wins, arrays and scalars are replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isObj(base) || !isObj(over)) return over === undefined ? base : over;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}
