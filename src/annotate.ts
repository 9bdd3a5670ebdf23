import sharp from 'sharp';
import type { Frame } from './camera/frame.js';
import {
  anchorPoint,
  type ExplainedDetection,
  type IgnoredReason,
  type Polygon,
  type RoomFilter,
} from './count/region.js';

/**
 * A picture of what a room counts: the frame with the room's region, every detection (counted, or ignored and
 * why) and the count drawn on it, as a JPEG. For the operator commands `snapshot` and `count --annotate` only:
 * `roomcount run` never makes one. The drawing is an SVG overlay that sharp composites (no canvas dependency).
 */

/** Colours chosen to stay apart from each other and readable on dark and light pictures (each has a dark halo). */
export const ANNOTATION_COLOURS = {
  counted: '#22e06b',
  'below minScore': '#b4b4b4',
  'box too small': '#ffb000',
  'box too large': '#ffb000',
  'outside region': '#ff4fd8',
  excluded: '#ff3b30',
  /** Outline of the include polygons; outside them the picture is dimmed. */
  include: '#00b4ff',
  /** Outline and hatching of the exclude polygons. */
  exclude: '#ff3b30',
} as const satisfies Record<IgnoredReason | 'counted' | 'include' | 'exclude', string>;

const BACKGROUND = '#111111';
/** How much the picture outside the include polygons is darkened (0..1). */
export const OUTSIDE_DIM = 0.45;
const SANS = "'DejaVu Sans', 'Liberation Sans', Arial, sans-serif";
/** Monospace so that label widths can be computed (0.6 em per character in DejaVu/Liberation Mono). */
const MONO = "'DejaVu Sans Mono', 'Liberation Mono', 'Courier New', monospace";
const MONO_ADVANCE = 0.61;

export interface AnnotateOptions {
  /** Second line of the banner, e.g. room, model and time. Never put a camera URL here. */
  title?: string;
  /** The output picture's long side is at most this (default 1920: files stay small)... */
  maxSide?: number;
  /** ...and at least this (default 640: small sub-stream frames are enlarged so the text stays readable). */
  minSide?: number;
  /** JPEG quality 1..100 (default 80). */
  quality?: number;
}

/** Where things go in the output image. */
export interface AnnotationLayout {
  /** Frame pixels → output pixels, per axis. */
  scaleX: number;
  scaleY: number;
  /** The scaled frame: its size and its top edge in the output (the banner is above it, the legend below). */
  pictureWidth: number;
  pictureHeight: number;
  pictureTop: number;
  /** The whole output image. */
  width: number;
  height: number;
  /** Label text size and line width, in output pixels. */
  font: number;
  line: number;
}

export interface Annotated {
  jpeg: Buffer;
  layout: AnnotationLayout;
  counted: number;
  ignored: number;
}

/** "3 people counted · 2 ignored" */
export function countSummary(explained: readonly ExplainedDetection[]): string {
  const counted = explained.filter((e) => e.counted).length;
  const ignored = explained.length - counted;
  return `${counted} ${counted === 1 ? 'person' : 'people'} counted · ${ignored} ignored`;
}

/**
 * Draws the room's region (include polygons outlined, the rest dimmed; exclude polygons hatched), every
 * detection's box with its score (and, if ignored, why) and anchor point, a banner with the count and a legend
 * onto the frame, and encodes it as JPEG. `explained` is in the frame's pixels; the region is normalised.
 */
export async function annotateFrame(
  frame: Frame,
  explained: readonly ExplainedDetection[],
  filter: RoomFilter,
  opts: AnnotateOptions = {},
): Promise<Annotated> {
  const base = pictureLayout(frame, opts);
  const legend = legendItems(explained, filter);
  const rows = legendRows(legend, base);
  const legendHeight = Math.round(rows.length * base.font * 1.7 + base.font * 0.6);
  const layout: AnnotationLayout = { ...base, height: base.pictureTop + base.pictureHeight + legendHeight };
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${layout.width}" height="${layout.height}">`,
    regionSvg(filter, layout),
    detectionsSvg(explained, filter, layout),
    bannerSvg(countSummary(explained), opts.title, layout),
    legendSvg(rows, layout),
    '</svg>',
  ].join('\n');
  const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(layout.pictureWidth, layout.pictureHeight, { fit: 'fill' })
    .extend({ top: layout.pictureTop, bottom: legendHeight, background: BACKGROUND })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    // 4:4:4: thin coloured lines keep their colour (4:2:0 halves the colour resolution).
    .jpeg({ quality: opts.quality ?? 80, chromaSubsampling: '4:4:4', mozjpeg: true })
    .toBuffer();
  const counted = explained.filter((e) => e.counted).length;
  return { jpeg, layout, counted, ignored: explained.length - counted };
}

/** Output size and text/line sizes for a frame: long side within [minSide, maxSide], the banner on top. */
export function pictureLayout(
  frame: { width: number; height: number },
  opts: Pick<AnnotateOptions, 'maxSide' | 'minSide' | 'title'> = {},
): AnnotationLayout {
  const long = Math.max(frame.width, frame.height);
  const target = Math.min(opts.maxSide ?? 1920, Math.max(opts.minSide ?? 640, long));
  const pictureWidth = Math.max(1, Math.round((frame.width * target) / long));
  const pictureHeight = Math.max(1, Math.round((frame.height * target) / long));
  // ~13 px at 640 wide, ~27 px at 1920: the same size relative to the picture, never unreadably small.
  const font = Math.max(13, Math.round(Math.min(target / 70, pictureWidth / 36)));
  const line = Math.max(3, Math.round(font / 5));
  const pictureTop = Math.round(font * 1.2 + font * 1.35 * 1.2 + (opts.title ? font * 1.3 : 0));
  return {
    scaleX: pictureWidth / frame.width,
    scaleY: pictureHeight / frame.height,
    pictureWidth,
    pictureHeight,
    pictureTop,
    width: pictureWidth,
    height: pictureTop + pictureHeight,
    font,
    line,
  };
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

function points(polygon: Polygon, l: AnnotationLayout): string {
  return polygon
    .map(([x, y]) => `${px(x * l.pictureWidth)},${px(l.pictureTop + y * l.pictureHeight)}`)
    .join(' ');
}

/** Width of the dark outline drawn under every coloured line. */
function haloWidth(line: number): number {
  return line + 2 * Math.max(1, Math.round(line / 3));
}

function regionSvg(filter: RoomFilter, l: AnnotationLayout): string {
  const { include, exclude } = filter.region;
  const { pictureTop: top, pictureWidth: w, pictureHeight: h, line } = l;
  const out: string[] = [];
  const hatch = line * 4;
  out.push(
    '<defs>',
    `<pattern id="hatch" width="${hatch}" height="${hatch}" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">`,
    `<rect width="${Math.max(2, Math.round(line * 0.7))}" height="${hatch}" fill="${ANNOTATION_COLOURS.exclude}" fill-opacity="0.6"/>`,
    '</pattern>',
    '<mask id="outside" maskUnits="userSpaceOnUse">',
    `<rect x="0" y="${top}" width="${w}" height="${h}" fill="white"/>`,
    ...include.map((p) => `<polygon points="${points(p, l)}" fill="black"/>`),
    '</mask>',
    '</defs>',
  );
  if (include.length > 0) {
    out.push(
      `<rect x="0" y="${top}" width="${w}" height="${h}" fill="black" fill-opacity="${OUTSIDE_DIM}" mask="url(#outside)"/>`,
    );
  }
  for (const p of exclude) {
    const pts = points(p, l);
    out.push(
      `<polygon points="${pts}" fill="${ANNOTATION_COLOURS.exclude}" fill-opacity="0.15"/>`,
      `<polygon points="${pts}" fill="url(#hatch)"/>`,
      outline('polygon', `points="${pts}"`, ANNOTATION_COLOURS.exclude, line),
    );
  }
  for (const p of include) {
    out.push(outline('polygon', `points="${points(p, l)}"`, ANNOTATION_COLOURS.include, line));
  }
  return out.join('\n');
}

/** A shape's outline in a colour over a dark halo, so it reads on light and dark pictures alike. */
function outline(tag: string, attrs: string, colour: string, line: number, dash?: string): string {
  const d = dash ? ` stroke-dasharray="${dash}"` : '';
  const common = `${attrs} fill="none" stroke-linejoin="round"${d}`;
  return (
    `<${tag} ${common} stroke="#000" stroke-opacity="0.6" stroke-width="${haloWidth(line)}"/>` +
    `<${tag} ${common} stroke="${colour}" stroke-width="${line}"/>`
  );
}

function colourOf(e: ExplainedDetection): string {
  return e.counted ? ANNOTATION_COLOURS.counted : ANNOTATION_COLOURS[e.reason ?? 'outside region'];
}

/** Short reason words on the boxes (the legend spells them out): many boxes, little room. */
const SHORT_REASON: Record<Exclude<IgnoredReason, 'below minScore'>, string> = {
  'box too small': 'small',
  'box too large': 'large',
  'outside region': 'outside',
  excluded: 'excluded',
};

/** "0.87" on a counted box; "0.21 < 0.3", "0.64 outside" on an ignored one. */
export function labelOf(e: ExplainedDetection, filter: Pick<RoomFilter, 'minScore'>): string {
  const score = e.detection.score.toFixed(2);
  if (e.counted) return score;
  if (e.reason === 'below minScore') return `${score} < ${filter.minScore}`;
  return `${score} ${e.reason ? SHORT_REASON[e.reason] : 'ignored'}`;
}

function detectionsSvg(
  explained: readonly ExplainedDetection[],
  filter: RoomFilter,
  l: AnnotationLayout,
): string {
  // Ignored boxes and their labels under the counted ones (a crowd of weak boxes never hides a counted edge); each
  // group's labels over its lines.
  return [
    layerSvg(
      explained.filter((e) => !e.counted),
      filter,
      l,
    ),
    layerSvg(
      explained.filter((e) => e.counted),
      filter,
      l,
    ),
  ].join('\n');
}

function layerSvg(ordered: readonly ExplainedDetection[], filter: RoomFilter, l: AnnotationLayout): string {
  const { line, font } = l;
  const shapes: string[] = [];
  const labels: string[] = [];
  const labelHeight = Math.round(font * 1.35);
  const padX = Math.round(font * 0.3);
  for (const e of ordered) {
    const colour = colourOf(e);
    // Weak boxes can be many: thinner, so the counted ones stand out.
    const weak = e.reason === 'below minScore';
    const w = weak ? Math.max(2, Math.round(line * 0.67)) : line;
    const [bx1, by1, bx2, by2] = e.detection.box;
    const x1 = bx1 * l.scaleX;
    const y1 = l.pictureTop + by1 * l.scaleY;
    const x2 = bx2 * l.scaleX;
    const y2 = l.pictureTop + by2 * l.scaleY;
    const rect = `x="${px(x1)}" y="${px(y1)}" width="${px(Math.max(1, x2 - x1))}" height="${px(Math.max(1, y2 - y1))}"`;
    // Ignored boxes dashed: at a glance, solid = counted.
    shapes.push(outline('rect', rect, colour, w, e.counted ? undefined : `${w * 3} ${w * 2}`));
    const [ax, ay] = anchorPoint(e.detection.box, filter.anchor);
    shapes.push(
      `<circle cx="${px(ax * l.scaleX)}" cy="${px(l.pictureTop + ay * l.scaleY)}" r="${px(w * 1.6)}" ` +
        `fill="${colour}" stroke="#000" stroke-width="${Math.max(1, Math.round(w / 2))}"/>`,
    );
    const text = labelOf(e, filter);
    const width = Math.ceil(text.length * font * MONO_ADVANCE) + 2 * padX;
    // Above the box's top-left corner; inside the box when that would cover the banner; never off the right edge.
    let ly = y1 - line / 2 - labelHeight;
    if (ly < l.pictureTop) ly = y1 + line / 2;
    const lx = Math.max(0, Math.min(x1 - line / 2, l.width - width));
    labels.push(
      `<rect x="${px(lx)}" y="${px(ly)}" width="${width}" height="${labelHeight}" fill="${colour}"/>` +
        `<text x="${px(lx + padX)}" y="${px(ly + labelHeight * 0.76)}" font-family="${MONO}" font-weight="bold" ` +
        `font-size="${font}" fill="#000">${escapeXml(text)}</text>`,
    );
  }
  return [...shapes, ...labels].join('\n');
}

function bannerSvg(summary: string, title: string | undefined, l: AnnotationLayout): string {
  const { font } = l;
  const big = Math.round(font * 1.35);
  const x = Math.round(font * 0.6);
  const [counted, ignored] = summary.split(' · ');
  const out = [
    `<text xml:space="preserve" x="${x}" y="${Math.round(font * 0.6 + big)}" font-family="${SANS}" font-weight="bold" font-size="${big}">` +
      `<tspan fill="${ANNOTATION_COLOURS.counted}">${escapeXml(counted ?? '')}</tspan>` +
      `<tspan fill="#dddddd"> · ${escapeXml(ignored ?? '')}</tspan></text>`,
  ];
  if (title) {
    out.push(
      `<text x="${x}" y="${Math.round(font * 0.6 + big * 1.2 + font * 1.05)}" font-family="${SANS}" ` +
        `font-size="${font}" fill="#bbbbbb">${escapeXml(title)}</text>`,
    );
  }
  return out.join('\n');
}

interface LegendItem {
  kind: 'box' | 'dashed' | 'include' | 'exclude';
  colour: string;
  text: string;
}

function legendItems(explained: readonly ExplainedDetection[], filter: RoomFilter): LegendItem[] {
  const n = (pred: (e: ExplainedDetection) => boolean) => explained.filter(pred).length;
  const items: LegendItem[] = [
    { kind: 'box', colour: ANNOTATION_COLOURS.counted, text: `counted: ${n((e) => e.counted)}` },
  ];
  const reasons: [IgnoredReason, string][] = [
    ['below minScore', `below minScore ${filter.minScore}`],
    ['box too small', `box too small (< ${pct(filter.minBoxArea)} of picture)`],
    ['box too large', `box too large (> ${pct(filter.maxBoxArea)} of picture)`],
    ['outside region', 'outside region'],
    ['excluded', 'in an exclude area'],
  ];
  for (const [reason, text] of reasons) {
    const count = n((e) => !e.counted && e.reason === reason);
    if (count > 0)
      items.push({ kind: 'dashed', colour: ANNOTATION_COLOURS[reason], text: `${text}: ${count}` });
  }
  if (filter.region.include.length > 0) {
    items.push({ kind: 'include', colour: ANNOTATION_COLOURS.include, text: 'counting region' });
  }
  if (filter.region.exclude.length > 0) {
    items.push({ kind: 'exclude', colour: ANNOTATION_COLOURS.exclude, text: 'exclude area' });
  }
  return items;
}

function pct(fraction: number | undefined): string {
  return `${Math.round((fraction ?? 0) * 10000) / 100}%`;
}

interface PlacedItem extends LegendItem {
  x: number;
}

/** Legend items flowed into rows that fit the picture's width. */
function legendRows(
  items: readonly LegendItem[],
  l: Pick<AnnotationLayout, 'font' | 'width'>,
): PlacedItem[][] {
  const { font } = l;
  const margin = Math.round(font * 0.6);
  const swatch = Math.round(font * 1.6);
  const rows: PlacedItem[][] = [[]];
  let x = margin;
  for (const item of items) {
    const width = swatch + font * 0.5 + item.text.length * font * MONO_ADVANCE;
    if (x > margin && x + width > l.width - margin) {
      rows.push([]);
      x = margin;
    }
    rows[rows.length - 1]!.push({ ...item, x });
    x += width + font * 1.3;
  }
  return rows;
}

function legendSvg(rows: readonly PlacedItem[][], l: AnnotationLayout): string {
  const { font, line } = l;
  const swatch = Math.round(font * 1.6);
  const out: string[] = [];
  rows.forEach((row, i) => {
    const y = l.pictureTop + l.pictureHeight + Math.round(font * 0.6 + i * font * 1.7);
    for (const item of row) {
      const sw = `x="${item.x + line / 2}" y="${y + line / 2}" width="${swatch - line}" height="${font - line}"`;
      if (item.kind === 'exclude') out.push(`<rect ${sw} fill="url(#hatch)"/>`);
      const dash = item.kind === 'dashed' ? `${line * 1.5} ${line}` : undefined;
      out.push(outline('rect', sw, item.colour, Math.max(2, line - 1), dash));
      out.push(
        `<text x="${Math.round(item.x + swatch + font * 0.5)}" y="${Math.round(y + font * 0.85)}" ` +
          `font-family="${MONO}" font-size="${font}" fill="#eeeeee">${escapeXml(item.text)}</text>`,
      );
    }
  });
  return out.join('\n');
}
