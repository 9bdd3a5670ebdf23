import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, realpathSync } from 'node:fs';
import { renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { isAlias, isCollection, isMap, isNode, isPair, isScalar, isSeq, parseDocument } from 'yaml';
import type { Node, Pair, YAMLMap } from 'yaml';
import { ConfigError, parseConfig } from '../config/load.js';
import type { Config, RoomConfig } from '../config/schema.js';
import { type Anchor, type Polygon } from '../count/region.js';

/** What the setup page edits in one room: its region and, optionally, its own minScore. */
export interface RoomEdit {
  region: { include: readonly Polygon[]; exclude: readonly Polygon[]; anchor: Anchor };
  /** The room's minScore; written only when it differs from what the file gives the room today. */
  minScore: number;
}

/** Point coordinates in the YAML: 3 decimals (1/1000 of the picture is finer than anyone can click). */
const DECIMALS = 3;

export const roundCoord = (v: number): number => {
  const f = 10 ** DECIMALS;
  const r = Math.round(Math.min(1, Math.max(0, v)) * f) / f;
  return r === 0 ? 0 : r; // no "-0"
};

export const roundScore = (v: number): number => Math.round(v * 1000) / 1000;

const flowPolygon = (p: Polygon): string =>
  `[${p.map(([x, y]) => `[${roundCoord(x)}, ${roundCoord(y)}]`).join(', ')}]`;

/** A polygon list as one flow value: `[]`, `[[x, y], ...]` (one polygon) or `[[[x, y], ...], ...]`. */
function flowPolygons(polygons: readonly Polygon[]): string {
  if (polygons.length === 1) return flowPolygon(polygons[0]!);
  return `[${polygons.map(flowPolygon).join(', ')}]`;
}

/**
 * The value of `include:`/`exclude:` after the key, as it goes into a block mapping whose keys are at `indent`:
 * one polygon (or none) on the key's line, several as a block list with one flow polygon per line.
 */
function blockPolygonsValue(polygons: readonly Polygon[], indent: string, step: string): string {
  if (polygons.length < 2) return ` ${flowPolygons(polygons)}`;
  return polygons.map((p) => `\n${indent}${step}- ${flowPolygon(p)}`).join('');
}

/** Region keys with their values as they follow `key:` in a block mapping whose keys are at `indent`. */
function regionEntries(edit: RoomEdit, indent: string, step: string): [string, string][] {
  return [
    ['include', blockPolygonsValue(edit.region.include, indent, step)],
    ['exclude', blockPolygonsValue(edit.region.exclude, indent, step)],
    ['anchor', ` ${edit.region.anchor}`],
  ];
}

const regionBlockLines = (edit: RoomEdit, indent: string, step: string): string[] =>
  regionEntries(edit, indent, step).map(([key, value]) => `${indent}${key}:${value}`);

function regionFlowMap(edit: RoomEdit): string {
  const r = edit.region;
  return `{ include: ${flowPolygons(r.include)}, exclude: ${flowPolygons(r.exclude)}, anchor: ${r.anchor} }`;
}

/**
 * What the setup page shows to copy into a room: the `region:` block (and the room's `minScore:` when the room
 * needs its own), at column 0, as `--write` would put it into the file.
 */
export function renderRoomYaml(edit: RoomEdit, withMinScore: boolean): string {
  const lines = withMinScore ? [`minScore: ${roundScore(edit.minScore)}`] : [];
  lines.push('region:', ...regionBlockLines(edit, '  ', '  '));
  return lines.join('\n') + '\n';
}

/**
 * The minScore a room gets (its own, else defaults', else the detector's `threshold`: detector.minScore, or the
 * model's own when the file sets none).
 */
export function effectiveMinScore(room: RoomConfig, threshold: number): number {
  return Math.max(threshold, room.minScore ?? 0);
}

/** Whether the page's YAML shows a `minScore:` line: the room has, or now needs, a value of its own. */
export function needsOwnMinScore(room: RoomConfig, minScore: number, threshold: number): boolean {
  return room.minScore !== undefined || roundScore(minScore) !== threshold;
}

export class EditError extends Error {
  override readonly name = 'EditError';
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

/** Column (0-based) of an offset in its line. */
function columnOf(text: string, offset: number): number {
  return offset - (text.lastIndexOf('\n', offset - 1) + 1);
}

/** Where the line holding `offset` ends (before its "\n" or "\r\n"). */
function lineEnd(text: string, offset: number): number {
  const nl = text.indexOf('\n', offset);
  if (nl < 0) return text.length;
  return text[nl - 1] === '\r' ? nl - 1 : nl;
}

/**
 * Where a node's own text ends: for block collections, the end of the last item (so that comments and blank
 * lines after it, which the parser counts in the collection, stay where they are).
 */
function nodeEnd(text: string, node: unknown): number {
  if (isCollection(node) && !node.flow && node.items.length > 0) {
    const last = node.items[node.items.length - 1];
    return isPair(last) ? pairEnd(text, last) : nodeEnd(text, last);
  }
  let end = isNode(node) && node.range ? node.range[1] : 0;
  while (end > 0 && /\s/.test(text[end - 1]!)) end--;
  return end;
}

function pairEnd(text: string, pair: Pair): number {
  const keyEnd = (pair.key as Node).range![1];
  const colon = text.indexOf(':', keyEnd) + 1;
  return Math.max(colon, pair.value ? nodeEnd(text, pair.value) : colon);
}

const keyName = (pair: Pair): string => String(isScalar(pair.key) ? pair.key.value : pair.key);

function findPair(map: YAMLMap, key: string): Pair | undefined {
  return map.items.find((p) => keyName(p) === key);
}

/** Replaces a pair's `: value` (comments after the value on its line are kept). */
function replaceValue(text: string, pair: Pair, value: string): Splice {
  return { start: (pair.key as Node).range![1], end: pairEnd(text, pair), text: `:${value}` };
}

/** The indentation step of a block room: from one of its nested block mappings (camera:), else 2. */
function indentStep(text: string, room: YAMLMap): string {
  for (const pair of room.items) {
    if (isMap(pair.value) && !pair.value.flow && pair.value.items[0]) {
      const inner = columnOf(text, (pair.value.items[0].key as Node).range![0]);
      const outer = columnOf(text, (pair.key as Node).range![0]);
      if (inner > outer) return ' '.repeat(inner - outer);
    }
  }
  return '  ';
}

/**
 * `text` (a whole config file) with one room's region and minScore set to `edit`, and every other byte as it
 * was: comments, their alignment, blank lines, key order, quoting and the other rooms. Only the values of
 * `region.include`, `region.exclude`, `region.anchor` and `minScore` are rewritten (keys the room lacks are
 * added after its last key). The yaml package's Document API is used to find those spots, not to print the
 * file: printing it again would re-align comments and re-space flow lists throughout.
 */
export function editRoomYaml(text: string, roomId: string, edit: RoomEdit, writeMinScore: boolean): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new EditError(`the file no longer parses: ${doc.errors[0]!.message}`);
  const rooms = isMap(doc.contents) ? doc.contents.get('rooms', true) : undefined;
  if (!isSeq(rooms)) throw new EditError('no "rooms:" list in the file');
  const index = rooms.items.findIndex(
    (item) =>
      isMap(item) && String((item.get('id', true) as { value?: unknown } | undefined)?.value) === roomId,
  );
  const room = rooms.items[index];
  if (!isMap(room)) {
    const alias = rooms.items.some(isAlias)
      ? ' (rooms written as YAML aliases cannot be edited: edit by hand)'
      : '';
    throw new EditError(`room "${roomId}" is not in the file any more${alias}`);
  }

  const splices: Splice[] = [];
  const added: string[] = []; // keys the room lacks: indented block lines, or flow entries
  const minPair = findPair(room, 'minScore');
  const regionPair = findPair(room, 'region');
  const minText = String(roundScore(edit.minScore));

  if (room.flow) {
    if (writeMinScore) {
      if (minPair) splices.push(replaceValue(text, minPair, ` ${minText}`));
      else added.push(`minScore: ${minText}`);
    }
    if (regionPair) splices.push(replaceValue(text, regionPair, ` ${regionFlowMap(edit)}`));
    else added.push(`region: ${regionFlowMap(edit)}`);
    if (added.length) {
      let at = text.lastIndexOf('}', room.range![1] - 1);
      while (at > 0 && /\s/.test(text[at - 1]!)) at--;
      splices.push({ start: at, end: at, text: `${room.items.length ? ', ' : ''}${added.join(', ')}` });
    }
  } else {
    const indent = ' '.repeat(columnOf(text, (room.items[0]!.key as Node).range![0]));
    const step = indentStep(text, room);
    if (writeMinScore) {
      if (minPair) splices.push(replaceValue(text, minPair, ` ${minText}`));
      else added.push(`${indent}minScore: ${minText}`);
    }
    const region = regionPair?.value;
    if (regionPair && isMap(region) && !region.flow && region.items.length > 0) {
      // Each key in place; missing ones after the region's last key.
      const inner = ' '.repeat(columnOf(text, (region.items[0]!.key as Node).range![0]));
      const missing: string[] = [];
      for (const [key, value] of regionEntries(edit, inner, step)) {
        const pair = findPair(region, key);
        if (pair) splices.push(replaceValue(text, pair, value));
        else missing.push(`${inner}${key}:${value}`);
      }
      if (missing.length) {
        const at = lineEnd(text, pairEnd(text, region.items[region.items.length - 1] as Pair));
        splices.push({ start: at, end: at, text: missing.map((l) => `\n${l}`).join('') });
      }
    } else if (regionPair && isMap(region) && region.flow) {
      splices.push(replaceValue(text, regionPair, ` ${regionFlowMap(edit)}`));
    } else {
      const block = regionBlockLines(edit, indent + step, step).join('\n');
      if (regionPair) splices.push(replaceValue(text, regionPair, `\n${block}`));
      else added.push(`${indent}region:\n${block}`);
    }
    if (added.length) {
      const at = lineEnd(text, pairEnd(text, room.items[room.items.length - 1] as Pair));
      splices.push({ start: at, end: at, text: added.map((l) => `\n${l}`).join('') });
    }
  }

  let out = text;
  const eol = text.includes('\r\n') ? '\r\n' : '\n'; // a file saved on Windows keeps its line ends
  // From the end, so offsets stay valid; of two insertions at one spot, the one pushed first ends up first.
  const order = splices.map((s, i) => ({ ...s, i })).sort((a, b) => b.start - a.start || b.i - a.i);
  for (const s of order) out = out.slice(0, s.start) + s.text.replace(/\n/g, eol) + out.slice(s.end);
  return out;
}

/** The parsed room with this id, or undefined. */
const roomIn = (config: Config, id: string) => config.rooms.find((r) => r.id === id);

/**
 * Checks that `next` (the edited file) loads, gives the room exactly the edited region (and minScore), and
 * leaves everything else as `before` has it. Throws an EditError saying what is wrong otherwise.
 */
export function checkEdit(
  file: string,
  before: Config,
  nextText: string,
  roomId: string,
  edit: RoomEdit,
  threshold: number,
): Config {
  let next: Config;
  try {
    next = parseConfig(nextText, file);
  } catch (err) {
    const why = err instanceof ConfigError ? err.message : (err as Error).message;
    throw new EditError(`the edited file would not load, so it was not written:\n${why}`);
  }
  const room = roomIn(next, roomId);
  const want = {
    include: edit.region.include.map((p) => p.map(([x, y]) => [roundCoord(x), roundCoord(y)])),
    exclude: edit.region.exclude.map((p) => p.map(([x, y]) => [roundCoord(x), roundCoord(y)])),
    anchor: edit.region.anchor,
  };
  const got = room && {
    include: room.region.include,
    exclude: room.region.exclude,
    anchor: room.region.anchor,
  };
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (
    !room ||
    !same(got, want) ||
    effectiveMinScore(room, threshold) !== Math.max(threshold, roundScore(edit.minScore))
  ) {
    throw new EditError(
      `editing room "${roomId}" did not give the expected result; the file was not written (edit it by hand)`,
    );
  }
  const others = (c: Config) => ({ ...c, rooms: c.rooms.filter((r) => r.id !== roomId) });
  const oldRoom = roomIn(before, roomId);
  const rest = (r: RoomConfig | undefined) => r && { ...r, region: undefined, minScore: undefined };
  if (!same(others(before), others(next)) || !same(rest(oldRoom), rest(room))) {
    throw new EditError(
      `editing room "${roomId}" would have changed other settings; the file was not written`,
    );
  }
  return next;
}

/** Writes `text` to `file` atomically (temp file in the same folder, then rename), keeping the file's mode. */
export function writeFileAtomic(file: string, text: string): void {
  const target = realpathSync(file); // a symlinked config stays a symlink
  const mode = statSync(target).mode & 0o7777;
  const tmp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(tmp, mode); // the umask may have narrowed it
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/**
 * `--write`: puts the room's edited region (and minScore, when it changes what the room gets) into the config
 * file as it is on disk now, checks the result loads and changes nothing else, and replaces the file.
 * Returns the config as loaded from the new file, and whether anything changed.
 */
export function saveRoomEdit(
  file: string,
  roomId: string,
  edit: RoomEdit,
  threshold: number,
): { config: Config; changed: boolean } {
  const text = readFileSync(file, 'utf8');
  let before: Config;
  try {
    before = parseConfig(text, file);
  } catch (err) {
    throw new EditError(`${file} does not load any more, so it was not changed:\n${(err as Error).message}`);
  }
  const room = roomIn(before, roomId);
  if (!room) throw new EditError(`room "${roomId}" is not in ${file} any more`);
  const writeMinScore = roundScore(edit.minScore) !== effectiveMinScore(room, threshold);
  const next = editRoomYaml(text, roomId, edit, writeMinScore);
  const config = checkEdit(file, before, next, roomId, edit, threshold);
  if (next === text) return { config, changed: false };
  writeFileAtomic(file, next);
  return { config, changed: true };
}
