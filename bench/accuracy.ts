/**
 * Count accuracy of every model × geometry (square / native aspect / tiles) on every evaluation set, at every
 * threshold of `roomcount eval --sweep`, from one detector run per model and set. What the README's accuracy
 * table and the models' default thresholds (src/detect/models.ts) are chosen from: a threshold is judged by its
 * MAE on every set at once, never by one set.
 *
 *   npx tsx bench/accuracy.ts [--sets DIR,...] [--configs NAME,...] [--json FILE]
 *   npx tsx bench/accuracy.ts --shipped      # every model as shipped (its threshold, tiles, input size): one table
 *
 * Sets default to COCO-128 (../shared/datasets/coco128-person) and the sets `npm run datasets` builds into
 * .cache/datasets (classroom, vtest, wide). Models come from ../shared/models. Progress on stderr.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { evalDataset, SWEEP_SCORES } from '../src/commands/eval.js';
import { countMetrics } from '../src/eval/metrics.js';
import type { TileSetting } from '../src/detect/detector.js';
import { modelDescriptor } from '../src/detect/models.js';

const SHARED_MODELS = path.resolve('../shared/models');
const DEFAULT_SETS = [
  ['coco128', path.resolve('../shared/datasets/coco128-person')],
  ['classroom', path.resolve('.cache/datasets/classroom')],
  ['vtest', path.resolve('.cache/datasets/vtest')],
  ['wide', path.resolve('.cache/datasets/wide')],
] as const;

interface Config {
  name: string;
  model: string;
  tiles?: TileSetting;
  inputSize?: number;
}

/** Named after the model alone: the model as shipped (its own tiles, size and threshold). */
const CONFIGS: Config[] = [
  { name: 'rtmdet-nano', model: 'rtmdet-nano' },
  { name: 'yolox-nano', model: 'yolox-nano' },
  { name: 'nanodet-plus', model: 'nanodet-plus' },
  { name: 'centernet', model: 'centernet' },
  { name: 'centernet one pass', model: 'centernet', tiles: 'off' },
  { name: 'centernet tiles', model: 'centernet', tiles: 'auto' },
  { name: 'yolox-nano one pass', model: 'yolox-nano', tiles: 'off' },
  { name: 'yolox-nano tiles', model: 'yolox-nano', tiles: 'auto' },
  { name: 'nanodet-plus one pass', model: 'nanodet-plus', tiles: 'off' },
  { name: 'nanodet-plus tiles', model: 'nanodet-plus', tiles: 'auto' },
  ...[320, 416, 448, 480, 512, 576, 640].map((size) => ({
    name: `rtmdet-nano ${size}`,
    model: 'rtmdet-nano',
    tiles: 'off' as const,
    inputSize: size,
  })),
  {
    name: 'rtmdet-nano 416 tiles',
    model: 'rtmdet-nano',
    tiles: 'auto',
    inputSize: 416,
  },
];

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() });

interface Row {
  config: string;
  set: string;
  n: number;
  msMedian: number;
  sweep: { minScore: number; mae: number; bias: number; exactPct: number }[];
}

/** Wide frames by format (their file names say it): 2:1 strips and 360° panoramas score apart too. */
const GROUPS: [string, RegExp][] = [
  ['2:1', /-2to1-/],
  ['360°', /-360-/],
];

/** `--shipped`: each model with its own defaults, every set, MAE / exact % / bias per cell. */
async function shipped(sets: readonly (readonly [string, string])[]): Promise<void> {
  const header = [
    'model (as shipped)',
    ...sets.flatMap(([s]) => (s === 'wide' ? GROUPS.map(([g]) => `wide ${g}`) : [s])),
  ];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const c of CONFIGS.filter((c) => c.name === c.model)) {
    const file = modelDescriptor(c.model).weights?.file;
    const modelPath = file && path.join(SHARED_MODELS, file);
    if (modelPath && !existsSync(modelPath)) continue;
    const cells: string[] = [];
    let described = '';
    for (const [set, dir] of sets) {
      process.stderr.write(`${c.model} (shipped defaults) on ${set}\n`);
      const r = await evalDataset({ dataset: dir, model: c.model, modelPath, out: quiet });
      described = `${c.model} (${r.detector.minScore})`;
      const groups = set === 'wide' ? GROUPS : ([[set, /./]] as [string, RegExp][]);
      for (const [, pattern] of groups) {
        const images = r.images.filter((i) => pattern.test(i.file));
        const m = countMetrics(images);
        cells.push(`${m.mae.toFixed(2)} · ${m.exactPct.toFixed(0)} % · ${signed(m.bias)}`);
      }
    }
    lines.push(`| ${described} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(`MAE · exact · bias per set\n${lines.join('\n')}\n`);
}

async function main(): Promise<void> {
  const sets = (arg('--sets')
    ?.split(',')
    .map((s) => [path.basename(s), path.resolve(s)] as const) ??
    DEFAULT_SETS.filter(([name, dir]) => {
      const ok = existsSync(path.join(dir, 'counts.csv'));
      if (!ok) process.stderr.write(`skipping set ${name}: ${dir}/counts.csv not found (npm run datasets)\n`);
      return ok;
    })) as readonly (readonly [string, string])[];
  if (process.argv.includes('--shipped')) return shipped(sets);
  const only = arg('--configs')?.split(',');
  const configs = CONFIGS.filter((c) => !only || only.includes(c.name));
  const rows: Row[] = [];
  for (const c of configs) {
    const file = modelDescriptor(c.model).weights?.file;
    const modelPath = file && path.join(SHARED_MODELS, file);
    if (modelPath && !existsSync(modelPath)) {
      process.stderr.write(`skipping ${c.name}: ${modelPath} not found\n`);
      continue;
    }
    for (const [set, dir] of sets) {
      process.stderr.write(`${c.name} on ${set}\n`);
      const r = await evalDataset({
        dataset: dir,
        model: c.model,
        modelPath,
        tiles: c.tiles,
        inputSize: c.inputSize,
        sweep: true,
        out: quiet,
      });
      rows.push({
        config: c.name,
        set,
        n: r.metrics.n,
        msMedian: r.timing.median,
        sweep: r.sweep!.map((s) => ({
          minScore: s.minScore,
          mae: s.metrics.mae,
          bias: s.metrics.bias,
          exactPct: s.metrics.exactPct,
        })),
      });
    }
  }
  const json = arg('--json') ?? '.cache/accuracy/results.json';
  mkdirSync(path.dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(rows, null, 1));
  process.stdout.write(
    report(
      rows,
      sets.map(([s]) => s),
    ),
  );
  process.stderr.write(`results: ${json}\n`);
}

/** Per config: each set's MAE / exact % at each threshold, and the mean MAE over sets (the choosing number). */
function report(rows: Row[], sets: string[]): string {
  const lines: string[] = [];
  const configs = [...new Set(rows.map((r) => r.config))];
  for (const config of configs) {
    const mine = sets.map((s) => rows.find((r) => r.config === config && r.set === s));
    lines.push(
      '',
      `${config}  (ms/image median: ${mine.map((r) => (r ? r.msMedian.toFixed(0) : '-')).join(' / ')})`,
    );
    lines.push(`minScore  ${sets.map((s) => s.padStart(18)).join('')}   mean MAE  worst`);
    for (const score of SWEEP_SCORES) {
      const cells = mine.map((r) => r?.sweep.find((s) => s.minScore === score));
      const maes = cells.filter((c) => c !== undefined).map((c) => c.mae);
      const mean = maes.reduce((a, b) => a + b, 0) / maes.length;
      lines.push(
        `${score.toFixed(2).padStart(8)}  ` +
          cells
            .map((c) =>
              c ? `${c.mae.toFixed(2)} ${c.exactPct.toFixed(0).padStart(3)}% ${signed(c.bias)}` : '-',
            )
            .map((t) => t.padStart(18))
            .join('') +
          `   ${mean.toFixed(3).padStart(8)}  ${Math.max(...maes).toFixed(2)}`,
      );
    }
  }
  return lines.join('\n') + '\n';
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
}

await main();
