import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** One image to score. */
export interface DatasetItem {
  /** As written in counts.csv (relative to the dataset folder). */
  file: string;
  /** Absolute path. */
  path: string;
  truth: number;
}

export interface Dataset {
  dir: string;
  /** Images to score, in counts.csv order. */
  items: DatasetItem[];
  /** Rows left out, with the reason (e.g. details.csv marks a crowd region the count does not include). */
  excluded: { file: string; reason: string }[];
  /** Whether details.csv was found (and used). */
  hasDetails: boolean;
}

export const COUNTS_FILE = 'counts.csv';
export const DETAILS_FILE = 'details.csv';

/**
 * Reads an eval dataset: `DIR/counts.csv` with header `file,person_count` (file relative to DIR), and, if
 * present, `DIR/details.csv` (header with `file` and `crowd_region_present`): rows whose
 * crowd_region_present is 1 are excluded, because COCO counts a crowd as one region, not its people.
 * Errors name the file and line.
 */
export async function readDataset(dirArg: string): Promise<Dataset> {
  const dir = path.resolve(dirArg);
  const countsPath = path.join(dir, COUNTS_FILE);
  const counts = parseCsv(
    await readText(countsPath, `dataset ${dir} needs ${COUNTS_FILE} (file,person_count)`),
    countsPath,
  );
  const fileCol = column(counts, 'file', countsPath);
  const countCol = column(counts, 'person_count', countsPath);

  const crowd = new Set<string>();
  let hasDetails = false;
  const detailsPath = path.join(dir, DETAILS_FILE);
  const detailsText = await readText(detailsPath).catch((err: unknown) => {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  });
  if (detailsText !== undefined) {
    hasDetails = true;
    const details = parseCsv(detailsText, detailsPath);
    const dFile = column(details, 'file', detailsPath);
    const dCrowd = details.header.indexOf('crowd_region_present');
    if (dCrowd >= 0) {
      for (const { cells } of details.rows) {
        if (cells[dCrowd]?.trim() === '1') crowd.add(cells[dFile]!.trim());
      }
    }
  }

  const items: DatasetItem[] = [];
  const excluded: Dataset['excluded'] = [];
  const seen = new Set<string>();
  for (const { line, cells } of counts.rows) {
    const file = cells[fileCol]?.trim() ?? '';
    const raw = cells[countCol]?.trim() ?? '';
    if (!file) throw new Error(`${countsPath}:${line}: empty file name`);
    const truth = Number(raw);
    if (raw === '' || !Number.isInteger(truth) || truth < 0) {
      throw new Error(`${countsPath}:${line}: person_count "${raw}" is not a whole number >= 0`);
    }
    if (seen.has(file)) throw new Error(`${countsPath}:${line}: ${file} is listed twice`);
    seen.add(file);
    if (crowd.has(file)) {
      excluded.push({ file, reason: 'crowd_region_present=1' });
      continue;
    }
    items.push({ file, path: path.resolve(dir, file), truth });
  }
  return { dir, items, excluded, hasDetails };
}

interface Csv {
  header: string[];
  rows: { line: number; cells: string[] }[];
}

/** Minimal RFC 4180 CSV: comma separated, optional double quotes ("" inside quotes), CRLF or LF, BOM ignored. */
export function parseCsv(text: string, file: string): Csv {
  const records: { line: number; cells: string[] }[] = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  const s = text.replace(/^\uFEFF/, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
    } else if (c === '"' && cell === '') {
      quoted = true;
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && s[i + 1] === '\n') i++;
      cells.push(cell);
      if (cells.some((v) => v.trim() !== '')) records.push({ line: recordLine, cells });
      cells = [];
      cell = '';
      line++;
      recordLine = line;
    } else {
      cell += c;
    }
  }
  if (quoted) throw new Error(`${file}:${recordLine}: unterminated quoted field`);
  cells.push(cell);
  if (cells.some((v) => v.trim() !== '')) records.push({ line: recordLine, cells });
  const [head, ...rows] = records;
  if (!head) throw new Error(`${file} is empty (expected a header line)`);
  return { header: head.cells.map((h) => h.trim()), rows };
}

function column(csv: Csv, name: string, file: string): number {
  const i = csv.header.indexOf(name);
  if (i < 0) throw new Error(`${file}: no "${name}" column in the header (${csv.header.join(',')})`);
  return i;
}

async function readText(file: string, what?: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' && what === undefined) throw err;
    const why = code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new Error(`cannot read ${file}: ${why}${what ? ` (${what})` : ''}`, { cause: err });
  }
}
