/**
 * Builds the evaluation sets used to choose detector thresholds and defaults (see bench/datasets/README.md):
 * classroom, vtest, wide (2:1 and 360° composites of small seated people) and the slideshow videos with their
 * truth. Reads ../shared and OpenCV's vtest.avi at run time and writes only under --out (gitignored): no
 * picture of theirs, and nothing made from their pixels, is ever committed. Idempotent: a set whose inputs and
 * builder are unchanged is kept (`up to date`); --force rebuilds. Progress on stderr, a summary on stdout.
 *
 *   npm run datasets [-- --out .cache/datasets --only wide,vtest --force --vtest-from-deb]
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import sharp from 'sharp';
import { parseCsv } from '../src/eval/dataset.js';
import { Progress } from '../src/eval/progress.js';
import {
  distribution,
  parseLabelCsv,
  planWide,
  slideshowTruth,
  WALLS,
  type FramePlan,
  type Room,
  type Source,
  type SourcePools,
  type Wall,
} from './datasets-plan.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const LABELS = path.join(ROOT, 'bench/datasets');
const SHARED = path.resolve(ROOT, '../shared');
const COCO = path.join(SHARED, 'datasets/coco128-person');
const CLASSROOM_GIF = path.join(SHARED, 'media/classroom.gif');
/** Where Debian's opencv-doc installs it; CI gets the same file out of `apt-get download opencv-doc`. */
const VTEST_INSTALLED = '/usr/share/doc/opencv-doc/examples/data/vtest.avi';
const VTEST_IN_DEB = './usr/share/doc/opencv-doc/examples/data/vtest.avi';
/** The labels in bench/datasets/vtest-counts.csv are for exactly this file (opencv-doc 4.6.0+dfsg-12). */
const VTEST_SHA256 = '45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf';
/** classroom.gif: 480x270, 45 frames, four people seated in every one (media/SOURCE.txt). */
const CLASSROOM_FRAMES = 45;
const CLASSROOM_COUNT = 4;
/**
 * Visible heights (px, in the 480x270 GIF) of its four seated people, head to where the desk hides them, by
 * eye on frame 0: two in the back row ~50 px, two in front ~81 and ~85 px. They barely move over the 3 s.
 */
const CLASSROOM_PERSON_PX = [50, 85] as const;
const WIDE_SEED = 20240609;
const SLIDE_SECONDS = 30;
const SLIDE_FPS = 5;
const SLIDE_SIZE = { width: 1280, height: 720 };
const CLASSROOM_VIDEO_SECONDS = 60;
const SETS = ['classroom', 'vtest', 'wide', 'slideshow'] as const;
type SetName = (typeof SETS)[number];

const execFileP = promisify(execFile);
const progress = (msg: string) => process.stderr.write(`[datasets] ${msg}\n`);

/** A needed input is missing: the set is skipped with this message (naming the path), the others still built. */
class Missing extends Error {}

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    const { stdout } = await execFileP(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `${cmd} ${args.slice(0, 6).join(' ')} … failed: ${(e.stderr || e.message).trim().slice(-800)}`,
      {
        cause: err,
      },
    );
  }
}

const ffmpeg = (args: string[]) =>
  run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...args]);

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function need(file: string, what: string): Promise<string> {
  if (!existsSync(file)) throw new Missing(`${what} not found: ${file}`);
  return file;
}

async function readLabels(name: string) {
  const file = path.join(LABELS, name);
  return { file, text: await readFile(file, 'utf8') };
}

const csvLine = (cells: (string | number)[]) =>
  cells.map((c) => (/[",\n]/.test(String(c)) ? `"${String(c).replaceAll('"', '""')}"` : String(c))).join(',');

async function writeCsv(file: string, header: string[], rows: (string | number)[][]) {
  await writeFile(file, [header, ...rows].map(csvLine).join('\n') + '\n');
}

// ---------------------------------------------------------------------------------------------------------
// Inputs

/**
 * vtest.avi: the installed copy, else one extracted earlier into the cache, else extracted into the cache from
 * an opencv-doc .deb found there or fetched with `apt-get download opencv-doc` (≈96 MB, deleted once extracted;
 * needs apt lists, i.e. an earlier `apt-get update`). Checked against the sha256 the labels were made on.
 */
async function findVtest(cache: string, fromDeb: boolean): Promise<string> {
  const dir = path.join(cache, 'opencv-doc');
  const cached = path.join(dir, 'vtest.avi');
  const installed = !fromDeb && existsSync(VTEST_INSTALLED);
  let file = installed ? VTEST_INSTALLED : existsSync(cached) ? cached : undefined;
  if (!file) {
    await mkdir(dir, { recursive: true });
    let deb = (await readdir(dir)).find((f) => /^opencv-doc_.*\.deb$/.test(f));
    if (!deb) {
      progress(
        `vtest.avi: not installed (${VTEST_INSTALLED}); apt-get download opencv-doc (~96 MB) into ${dir}`,
      );
      try {
        await run('apt-get', ['download', 'opencv-doc'], dir);
      } catch (err) {
        throw new Missing(
          `vtest.avi not found at ${VTEST_INSTALLED} and apt-get download opencv-doc failed ` +
            `(${(err as Error).message.slice(0, 200)}); install opencv-doc or put its .deb into ${dir}`,
        );
      }
      deb = (await readdir(dir)).find((f) => /^opencv-doc_.*\.deb$/.test(f));
      if (!deb) throw new Missing(`apt-get download opencv-doc left no opencv-doc_*.deb in ${dir}`);
    }
    progress(`vtest.avi: extracting from ${deb}`);
    await extractFromDeb(path.join(dir, deb), VTEST_IN_DEB, cached);
    await rm(path.join(dir, deb)); // 96 MB; the extracted vtest.avi is what later runs use.
    file = cached;
  }
  const sum = await sha256File(file);
  if (sum !== VTEST_SHA256) {
    throw new Error(
      `${file}: sha256 ${sum} is not the vtest.avi the labels in bench/datasets/vtest-counts.csv were made on ` +
        `(${VTEST_SHA256}); relabel or use opencv-doc 4.6.0`,
    );
  }
  return file;
}

/** dpkg-deb --fsys-tarfile DEB | tar -xO MEMBER > OUT, without a shell. */
async function extractFromDeb(deb: string, member: string, out: string): Promise<void> {
  const partial = `${out}.partial`;
  await new Promise<void>((resolve, reject) => {
    const dpkg = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tar = spawn('tar', ['-xO', member], { stdio: ['pipe', 'pipe', 'pipe'] });
    const sink = createWriteStream(partial);
    let errors = '';
    dpkg.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    tar.stderr.on('data', (d: Buffer) => (errors += d.toString()));
    dpkg.stdout.pipe(tar.stdin);
    tar.stdout.pipe(sink);
    let pending = 2;
    const done = (who: string) => (code: number | null) => {
      if (code !== 0)
        reject(new Error(`${who} failed (${code}) extracting ${member} from ${deb}: ${errors.trim()}`));
      else if (--pending === 0) sink.end(() => resolve());
    };
    dpkg.on('error', reject).on('close', done('dpkg-deb'));
    tar.on('error', reject).on('close', done('tar'));
  });
  await rename(partial, out);
}

async function extractGifFrames(dir: string): Promise<string[]> {
  await need(CLASSROOM_GIF, 'classroom.gif');
  await ffmpeg([
    '-i',
    CLASSROOM_GIF,
    '-fps_mode',
    'passthrough',
    '-pix_fmt',
    'rgb24',
    '-start_number',
    '0',
    path.join(dir, 'classroom-%02d.png'),
  ]);
  const files = Array.from({ length: CLASSROOM_FRAMES }, (_, i) =>
    path.join(dir, `classroom-${String(i).padStart(2, '0')}.png`),
  );
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0 || existsSync(path.join(dir, `classroom-${CLASSROOM_FRAMES}.png`))) {
    throw new Error(`${CLASSROOM_GIF}: expected exactly ${CLASSROOM_FRAMES} frames`);
  }
  return files;
}

interface VtestLabel {
  frame: number;
  count: number;
  hMin: number;
  hMax: number;
  note: string;
}

async function vtestLabels(): Promise<{ labels: VtestLabel[]; text: string }> {
  const { file, text } = await readLabels('vtest-counts.csv');
  const labels = parseLabelCsv(text, file).map((r, i) => {
    const frame = Number(r.frame);
    const count = Number(r.person_count);
    if (!Number.isInteger(frame) || !Number.isInteger(count)) throw new Error(`${file}: bad row ${i + 1}`);
    return { frame, count, hMin: Number(r.h_min_px || 0), hMax: Number(r.h_max_px || 0), note: r.note ?? '' };
  });
  return { labels, text };
}

/** Extracts the given 0-based frames (decode order) of a video as vtest-fNNNN.png. */
async function extractVideoFrames(video: string, frames: number[], dir: string): Promise<string[]> {
  const select = frames.map((n) => `eq(n\\,${n})`).join('+');
  await ffmpeg([
    '-i',
    video,
    '-vf',
    `select='${select}'`,
    '-fps_mode',
    'passthrough',
    path.join(dir, 'sel-%03d.png'),
  ]);
  const out: string[] = [];
  for (const [i, n] of frames.entries()) {
    const from = path.join(dir, `sel-${String(i + 1).padStart(3, '0')}.png`);
    if (!existsSync(from)) throw new Error(`${video}: frame ${n} not decoded (has the video fewer frames?)`);
    const to = path.join(dir, `vtest-f${String(n).padStart(4, '0')}.png`);
    await rename(from, to);
    out.push(to);
  }
  return out;
}

interface CocoPick {
  file: string;
  count: number;
  slideshow: number;
  wide: boolean;
  hMin: number;
  hMax: number;
}

/** bench/datasets/coco-picks.csv, checked against COCO-128's own counts and crowd flags. */
async function cocoPicks(): Promise<{ picks: CocoPick[]; text: string }> {
  const countsFile = await need(path.join(COCO, 'details.csv'), 'COCO-128 details.csv');
  const details = parseCsv(await readFile(countsFile, 'utf8'), countsFile);
  const col = (name: string) => details.header.indexOf(name);
  const truth = new Map(
    details.rows.map(({ cells }) => [
      cells[col('file')]!,
      { count: Number(cells[col('person_count')]), crowd: cells[col('crowd_region_present')] === '1' },
    ]),
  );
  const { file, text } = await readLabels('coco-picks.csv');
  const picks = parseLabelCsv(text, file).map((r) => {
    const t = truth.get(r.file!);
    const count = Number(r.person_count);
    if (!t) throw new Error(`${file}: ${r.file} is not in ${countsFile}`);
    if (t.count !== count || t.crowd) {
      throw new Error(
        `${file}: ${r.file} has person_count ${t.count}${t.crowd ? ' and a crowd region' : ''} in ${countsFile}, not ${count}`,
      );
    }
    return {
      file: r.file!,
      count,
      slideshow: Number(r.slideshow || 0),
      wide: r.wide === '1',
      hMin: Number(r.h_min || 0),
      hMax: Number(r.h_max || 0),
    };
  });
  return { picks, text };
}

// ---------------------------------------------------------------------------------------------------------
// Set bookkeeping: build into DIR.partial, then swap in; a stamp records what it was built from.

interface Options {
  out: string;
  force: boolean;
  /** Downloads and extractions kept between runs (OUT/_sources). */
  cache: string;
  /** Ignore an installed opencv-doc and take vtest.avi out of the .deb, as CI does. */
  vtestFromDeb: boolean;
}

interface Built {
  name: SetName;
  dir: string;
  summary: string[];
}

async function builderHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const f of ['bench/datasets.ts', 'bench/datasets-plan.ts'])
    hash.update(await readFile(path.join(ROOT, f)));
  return hash.digest('hex');
}

/** What a set was built from: the file's content, not its path or time (the same on every machine). */
async function fileStamp(file: string): Promise<string> {
  return `${path.basename(file)}:${await sha256File(file)}`;
}

async function buildSet(
  name: SetName,
  out: string,
  force: boolean,
  inputs: string[],
  build: (dir: string) => Promise<void>,
  summarize: (dir: string) => Promise<string[]>,
): Promise<Built> {
  const dir = path.join(out, name);
  const stampFile = path.join(dir, '.stamp');
  const stamp = createHash('sha256')
    .update([await builderHash(), ...inputs].join('\n'))
    .digest('hex');
  if (!force && existsSync(stampFile) && (await readFile(stampFile, 'utf8')).trim() === stamp) {
    progress(`${name}: up to date (${dir})`);
    return { name, dir, summary: await summarize(dir) };
  }
  const partial = `${dir}.partial`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  const started = Date.now();
  progress(`${name}: building`);
  await build(partial);
  await writeFile(path.join(partial, '.stamp'), stamp + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  progress(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s → ${dir}`);
  return { name, dir, summary: await summarize(dir) };
}

async function countsSummary(dir: string, heights: string): Promise<string[]> {
  const file = path.join(dir, 'counts.csv');
  const csv = parseCsv(await readFile(file, 'utf8'), file);
  const counts = csv.rows.map(({ cells }) => Number(cells[1]));
  return [
    `${counts.length} images, ${counts.reduce((a, b) => a + b, 0)} people`,
    `people/frame ${distribution(counts)}`,
    `person heights ${heights}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------
// classroom

async function buildClassroom({ out, force }: Options): Promise<Built> {
  await need(CLASSROOM_GIF, 'classroom.gif');
  return buildSet(
    'classroom',
    out,
    force,
    [await fileStamp(CLASSROOM_GIF)],
    async (dir) => {
      const files = await extractGifFrames(dir);
      await writeCsv(
        path.join(dir, 'counts.csv'),
        ['file', 'person_count'],
        files.map((f) => [path.basename(f), CLASSROOM_COUNT]),
      );
    },
    (dir) => countsSummary(dir, `${CLASSROOM_PERSON_PX[0]}–${CLASSROOM_PERSON_PX[1]} px (by eye, 480x270)`),
  );
}

// ---------------------------------------------------------------------------------------------------------
// vtest

async function buildVtest({ out, force, cache, vtestFromDeb }: Options): Promise<Built> {
  const { labels, text } = await vtestLabels();
  const video = await findVtest(cache, vtestFromDeb);
  return buildSet(
    'vtest',
    out,
    force,
    [VTEST_SHA256, text],
    async (dir) => {
      const files = await extractVideoFrames(
        video,
        labels.map((l) => l.frame),
        dir,
      );
      await writeCsv(
        path.join(dir, 'counts.csv'),
        ['file', 'person_count'],
        files.map((f, i) => [path.basename(f), labels[i]!.count]),
      );
    },
    (dir) =>
      countsSummary(dir, '~15–150 px (by eye, 768x576; far path and car park 15–30 px, nearest ~150 px)'),
  );
}

// ---------------------------------------------------------------------------------------------------------
// wide: composites

/** Flat room: a wall, a floor, a table band across the bottom, a door and a window (no glass reflections). */
function flatRoomSvg(room: Room, width: number, height: number): string {
  if (room.style === 'neutral') {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
      <defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#9a9a9a"/><stop offset="1" stop-color="#6f6f6f"/></linearGradient></defs>
      <rect width="100%" height="100%" fill="url(#g)"/></svg>`;
  }
  const floorY = Math.round(height * 0.72);
  const door = {
    x: Math.round(room.door * width),
    w: Math.round(height * 0.22),
    h: Math.round(height * 0.5),
  };
  const win = {
    x: Math.round(room.window * width),
    y: Math.round(height * 0.12),
    w: Math.round(height * 0.45),
    h: Math.round(height * 0.3),
  };
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <rect width="100%" height="100%" fill="${room.wall}"/>
    <rect x="${win.x}" y="${win.y}" width="${win.w}" height="${win.h}" fill="#c8d6e0" stroke="#f4f4f2" stroke-width="6"/>
    <line x1="${win.x + win.w / 2}" y1="${win.y}" x2="${win.x + win.w / 2}" y2="${win.y + win.h}" stroke="#f4f4f2" stroke-width="4"/>
    <rect x="${door.x}" y="${floorY - door.h}" width="${door.w}" height="${door.h}" fill="${room.floor}" fill-opacity="0.55" stroke="#5a5048" stroke-width="3"/>
    <rect x="0" y="${floorY}" width="${width}" height="${height - floorY}" fill="${room.floor}"/>
    <rect x="0" y="${floorY - 6}" width="${width}" height="6" fill="#8a8278"/>
    <rect x="${Math.round(width * 0.08)}" y="${Math.round(height * 0.86)}" width="${Math.round(width * 0.84)}" height="${Math.round(height * 0.14)}" fill="${room.table}"/>
  </svg>`;
}

/** One wall of the cube map: wall above, the table edge and top below the horizon (camera on the table). */
function wallFaceSvg(room: Room, face: number, wall: Wall): string {
  const tableY = Math.round(face * 0.7);
  const features =
    room.style === 'neutral'
      ? ''
      : wall === 'front'
        ? `<rect x="${Math.round(face * room.window * 0.7)}" y="${Math.round(face * 0.12)}" width="${Math.round(face * 0.3)}" height="${Math.round(face * 0.2)}" fill="#c8d6e0" stroke="#f4f4f2" stroke-width="5"/>`
        : wall === 'right'
          ? `<rect x="${Math.round(face * room.door * 0.8)}" y="${Math.round(face * 0.25)}" width="${Math.round(face * 0.16)}" height="${tableY - Math.round(face * 0.25)}" fill="${room.floor}" fill-opacity="0.5" stroke="#5a5048" stroke-width="3"/>`
          : '';
  const wallColour = room.style === 'neutral' ? '#8d8d8d' : room.wall;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${face}" height="${face}">
    <rect width="100%" height="100%" fill="${wallColour}"/>${features}
    <rect x="0" y="${tableY}" width="${face}" height="${face - tableY}" fill="${room.table}"/>
    <rect x="0" y="${tableY}" width="${face}" height="${Math.round(face * 0.025)}" fill="#5f5750"/>
  </svg>`;
}

function plainFaceSvg(face: number, fill: string, panel?: string): string {
  const p = panel
    ? `<rect x="${face * 0.3}" y="${face * 0.3}" width="${face * 0.4}" height="${face * 0.4}" fill="${panel}"/>`
    : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${face}" height="${face}"><rect width="100%" height="100%" fill="${fill}"/>${p}</svg>`;
}

async function pictureLayers(frame: FramePlan, files: Map<string, string>, wall?: Wall) {
  return Promise.all(
    frame.placements
      .filter((p) => p.wall === wall)
      .map(async (p) => ({
        input: await sharp(files.get(p.source.id)!)
          .resize(p.w, p.h, { kernel: 'lanczos3', fit: 'fill' })
          .toBuffer(),
        left: p.x,
        top: p.y,
      })),
  );
}

async function renderFlat(frame: FramePlan, files: Map<string, string>, file: string) {
  await sharp(Buffer.from(flatRoomSvg(frame.room, frame.width, frame.height)))
    .composite(await pictureLayers(frame, files))
    .removeAlpha()
    .png()
    .toFile(file);
}

/**
 * Cube map (six faces side by side in v360's c6x1 order: right, left, up, down, front, back) → equirect with
 * yaw 45°, so the four walls sit whole at 1/8, 3/8, 5/8, 7/8 of the width and the seam falls on a face edge.
 */
async function renderEquirect(frame: FramePlan, files: Map<string, string>, file: string, work: string) {
  const f = frame.face;
  const wallFace = async (wall: Wall) =>
    sharp(Buffer.from(wallFaceSvg(frame.room, f, wall)))
      .composite(await pictureLayers(frame, files, wall))
      .png()
      .toBuffer();
  const faces: Record<string, Buffer> = {};
  for (const wall of WALLS) faces[wall] = await wallFace(wall);
  faces.up = await sharp(Buffer.from(plainFaceSvg(f, '#ecebe7', '#fbfbf6')))
    .png()
    .toBuffer();
  faces.down = await sharp(Buffer.from(plainFaceSvg(f, frame.room.table)))
    .png()
    .toBuffer();
  const order = ['right', 'left', 'up', 'down', 'front', 'back'];
  const cube = path.join(work, 'cube.png');
  await sharp({ create: { width: 6 * f, height: f, channels: 3, background: '#000' } })
    .composite(order.map((name, i) => ({ input: faces[name]!, left: i * f, top: 0 })))
    .png()
    .toFile(cube);
  await ffmpeg([
    '-i',
    cube,
    '-vf',
    `v360=input=c6x1:output=e:w=${frame.width}:h=${frame.height}:yaw=45:interp=lanc`,
    '-frames:v',
    '1',
    file,
  ]);
}

async function widePools(
  work: string,
  video: string,
): Promise<{ pools: SourcePools; files: Map<string, string>; inputs: string[] }> {
  const files = new Map<string, string>();
  const gifFrames = await extractGifFrames(work);
  const classroom: Source[] = gifFrames.map((f, i) => {
    const id = `classroom#${String(i).padStart(2, '0')}`;
    files.set(id, f);
    return {
      kind: 'classroom',
      id,
      width: 480,
      height: 270,
      count: CLASSROOM_COUNT,
      hMin: CLASSROOM_PERSON_PX[0],
      hMax: CLASSROOM_PERSON_PX[1],
    };
  });
  const { picks, text: picksText } = await cocoPicks();
  const coco: Source[] = [];
  for (const p of picks.filter((q) => q.wide)) {
    const file = await need(path.join(COCO, p.file), 'COCO-128 image');
    const meta = await sharp(file).metadata();
    const id = `coco:${path.basename(p.file)}`;
    files.set(id, file);
    coco.push({
      kind: 'coco',
      id,
      width: meta.width,
      height: meta.height,
      count: p.count,
      hMin: p.hMin * meta.height,
      hMax: p.hMax * meta.height,
    });
  }
  const { labels, text: vtestText } = await vtestLabels();
  const usable = labels.filter((l) => l.hMin > 0 && l.hMax > 0 && !l.note);
  const vtestFiles = await extractVideoFrames(
    video,
    usable.map((l) => l.frame),
    work,
  );
  const vtest: Source[] = usable.map((l, i) => {
    const id = `vtest#${l.frame}`;
    files.set(id, vtestFiles[i]!);
    return { kind: 'vtest', id, width: 768, height: 576, count: l.count, hMin: l.hMin, hMax: l.hMax };
  });
  return {
    pools: { classroom, coco, vtest },
    files,
    inputs: [picksText, vtestText, await fileStamp(CLASSROOM_GIF)],
  };
}

async function buildWide({ out, force, cache, vtestFromDeb }: Options): Promise<Built> {
  // The pools (and so the plan) need every source; without one the set is skipped rather than built differently.
  await need(CLASSROOM_GIF, 'classroom.gif');
  await need(path.join(COCO, 'details.csv'), 'COCO-128 details.csv');
  const video = await findVtest(cache, vtestFromDeb);
  const work = path.join(cache, 'work-wide');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  try {
    const { pools, files, inputs } = await widePools(work, video);
    const plan = planWide(pools, WIDE_SEED);
    let heights = '';
    const built = await buildSet(
      'wide',
      out,
      force,
      [String(WIDE_SEED), ...inputs],
      async (dir) => {
        const bar = new Progress('[datasets] wide', plan.length);
        for (const frame of plan) {
          const file = path.join(dir, frame.file);
          if (frame.projection === 'flat') await renderFlat(frame, files, file);
          else await renderEquirect(frame, files, file, work);
          bar.tick();
        }
        bar.finish();
        await writeCsv(
          path.join(dir, 'counts.csv'),
          ['file', 'person_count'],
          plan.map((f) => [f.file, f.count]),
        );
        await writeCsv(
          path.join(dir, 'sources.csv'),
          [
            'file',
            'person_count',
            'projection',
            'size',
            'background',
            'source',
            'source_count',
            'wall',
            'x',
            'y',
            'w',
            'h',
            'scale',
            'person_h_min',
            'person_h_max',
          ],
          plan.flatMap((f) => {
            const common = [f.file, f.count, f.projection, `${f.width}x${f.height}`, f.room.style];
            if (f.placements.length === 0) return [[...common, 'none', 0, '', '', '', '', '', '', '', '']];
            return f.placements.map((p) => [
              ...common,
              p.source.id,
              p.source.count,
              p.wall ?? '',
              p.x,
              p.y,
              p.w,
              p.h,
              p.scale.toFixed(3),
              p.source.count ? p.personMin.toFixed(0) : '',
              p.source.count ? p.personMax.toFixed(0) : '',
            ]);
          }),
        );
      },
      async (dir) => {
        heights ||= wideHeights(plan);
        return [...(await countsSummary(dir, heights)), ...wideBreakdown(plan)];
      },
    );
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function wideHeights(plan: FramePlan[]): string {
  const people = plan.flatMap((f) => f.placements.filter((p) => p.source.count > 0));
  const lo = Math.min(...people.map((p) => p.personMin));
  const hi = Math.max(...people.map((p) => p.personMax));
  const inRange = people.filter((p) => p.personMin >= 15 && p.personMax <= 40).length;
  return `${lo.toFixed(0)}–${hi.toFixed(0)} px (planned: source heights × scale × 360° warp); ${inRange}/${people.length} pictures entirely within 15–40 px`;
}

function wideBreakdown(plan: FramePlan[]): string[] {
  const by = (pred: (f: FramePlan) => boolean, label: string) => {
    const frames = plan.filter(pred);
    return `${label}: ${frames.length} frames, ${frames.reduce((n, f) => n + f.count, 0)} people`;
  };
  const kinds = new Map<string, number>();
  for (const p of plan.flatMap((f) => f.placements))
    kinds.set(p.source.kind, (kinds.get(p.source.kind) ?? 0) + 1);
  return [
    by((f) => f.projection === 'flat', '2:1 1280x640'),
    by((f) => f.projection === 'equirect' && f.width === 1280, '360° 1280x640'),
    by((f) => f.projection === 'equirect' && f.width === 1920, '360° 1920x960'),
    `pictures: ${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`,
  ];
}

// ---------------------------------------------------------------------------------------------------------
// slideshow: COCO photos 30 s each, and classroom.gif looped

const X264 = (fps: number) => [
  ...['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-bf', '0'],
  // A key frame every 2 s, so a looping RTSP server and a joining client start fast.
  ...['-g', String(2 * fps), '-keyint_min', String(2 * fps), '-sc_threshold', '0', '-threads', '1'],
];

async function buildSlideshow({ out, force }: Options): Promise<Built> {
  await need(CLASSROOM_GIF, 'classroom.gif');
  const { picks, text } = await cocoPicks();
  const slides = picks.filter((p) => p.slideshow > 0).sort((a, b) => a.slideshow - b.slideshow);
  for (const s of slides) await need(path.join(COCO, s.file), 'COCO-128 image');
  return buildSet(
    'slideshow',
    out,
    force,
    [text, await fileStamp(CLASSROOM_GIF)],
    async (dir) => {
      const inputs: string[] = [];
      for (const [i, s] of slides.entries()) {
        const png = path.join(dir, `slide-${i}.png`);
        // Whole photo, letterboxed (never cropped) into the frame.
        await sharp(path.join(COCO, s.file))
          .resize(SLIDE_SIZE.width, SLIDE_SIZE.height, {
            fit: 'contain',
            background: '#000',
            kernel: 'lanczos3',
          })
          .removeAlpha()
          .png()
          .toFile(png);
        inputs.push('-loop', '1', '-framerate', String(SLIDE_FPS), '-t', String(SLIDE_SECONDS), '-i', png);
      }
      const concat = slides.map((_, i) => `[${i}:v]`).join('') + `concat=n=${slides.length}:v=1:a=0[v]`;
      const mp4 = path.join(dir, 'slideshow.mp4');
      progress(`slideshow: encoding ${slides.length} photos × ${SLIDE_SECONDS} s at ${SLIDE_FPS} fps`);
      await ffmpeg([
        ...inputs,
        '-filter_complex',
        concat,
        '-map',
        '[v]',
        ...X264(SLIDE_FPS),
        '-tune',
        'stillimage',
        '-r',
        String(SLIDE_FPS),
        mp4,
      ]);
      for (const i of slides.keys()) await rm(path.join(dir, `slide-${i}.png`));
      await writeCsv(
        path.join(dir, 'slideshow-truth.csv'),
        ['start_s', 'end_s', 'count'],
        slideshowTruth(
          slides.map((s) => s.count),
          SLIDE_SECONDS,
        ).map((r) => [r.start, r.end, r.count]),
      );
      await writeCsv(
        path.join(dir, 'slideshow-sources.csv'),
        ['start_s', 'end_s', 'count', 'photo'],
        slides.map((s, i) => [i * SLIDE_SECONDS, (i + 1) * SLIDE_SECONDS, s.count, s.file]),
      );
      progress(`slideshow: classroom.gif looped to ${CLASSROOM_VIDEO_SECONDS} s`);
      await ffmpeg([
        ...['-ignore_loop', '0', '-i', CLASSROOM_GIF, '-t', String(CLASSROOM_VIDEO_SECONDS)],
        ...X264(15),
        ...['-r', '15', path.join(dir, 'classroom.mp4')],
      ]);
      await writeCsv(
        path.join(dir, 'classroom-truth.csv'),
        ['start_s', 'end_s', 'count'],
        [[0, CLASSROOM_VIDEO_SECONDS, CLASSROOM_COUNT]],
      );
      // Annex-B copies for test/rtsp-server.py (which loops a raw H.264 stream; give it --fps).
      for (const name of ['slideshow', 'classroom']) {
        await ffmpeg([
          '-i',
          path.join(dir, `${name}.mp4`),
          '-c',
          'copy',
          '-bsf:v',
          'h264_mp4toannexb',
          '-f',
          'h264',
          path.join(dir, `${name}.h264`),
        ]);
      }
    },
    async (dir) => {
      const probe = async (f: string) =>
        (
          await run('ffprobe', [
            '-v',
            'error',
            '-show_entries',
            'format=duration:stream=width,height,avg_frame_rate',
            '-of',
            'compact=p=0:nk=1',
            path.join(dir, f),
          ])
        )
          .trim()
          .replace(/\n/g, ' ');
      const counts = slides.map((s) => s.count);
      return [
        `slideshow.mp4 (${await probe('slideshow.mp4')}): ${slides.length} photos × ${SLIDE_SECONDS} s, counts [${counts.join(',')}]`,
        `classroom.mp4 (${await probe('classroom.mp4')}): truth 0,${CLASSROOM_VIDEO_SECONDS},${CLASSROOM_COUNT}`,
      ];
    },
  );
}

// ---------------------------------------------------------------------------------------------------------

async function main() {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(ROOT, '.cache/datasets') },
      only: { type: 'string' },
      force: { type: 'boolean', default: false },
      'vtest-from-deb': { type: 'boolean', default: false },
    },
  });
  const out = path.resolve(values.out!);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...SETS];
  const unknown = only.filter((s) => !SETS.includes(s as SetName));
  if (unknown.length > 0)
    throw new Error(`--only: unknown set ${unknown.join(', ')} (sets: ${SETS.join(', ')})`);
  const cache = path.join(out, '_sources');
  await mkdir(cache, { recursive: true });
  const options: Options = { out, force: values.force!, cache, vtestFromDeb: values['vtest-from-deb']! };
  const builders: Record<SetName, (o: Options) => Promise<Built>> = {
    classroom: buildClassroom,
    vtest: buildVtest,
    wide: buildWide,
    slideshow: buildSlideshow,
  };
  const built: Built[] = [];
  const skipped: string[] = [];
  for (const name of SETS.filter((s) => only.includes(s))) {
    try {
      built.push(await builders[name](options));
    } catch (err) {
      if (!(err instanceof Missing)) throw err;
      progress(`${name}: SKIPPED: ${err.message}`);
      skipped.push(`${name}: skipped (${err.message})`);
    }
  }
  for (const b of built) {
    const rel = path.relative(process.cwd(), b.dir);
    process.stdout.write(`${b.name}  ${rel.startsWith('..') ? b.dir : rel}\n`);
    for (const line of b.summary) process.stdout.write(`  ${line}\n`);
  }
  for (const s of skipped) process.stdout.write(`${s}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[datasets] error: ${(err as Error).message}\n`);
  process.exit(1);
});
