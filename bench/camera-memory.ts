/**
 * Where one camera's ffmpeg keeps its memory: one ffmpeg at a time on the RTSP test server (a camera-like H.264
 * clip), started with the service's own command line (buildFfmpegArgs) plus the extra input options of a variant,
 * and after `--seconds` its /proc/<pid>/smaps grouped by mapping: [heap] (malloc), [anon] (large allocations:
 * decoded frames), libs (the private pages of its shared libraries: relocations, .data, .bss), [stack]; RSS, PSS
 * and private memory from smaps_rollup; its threads, and the frames it delivered (so that a variant that saves
 * memory by losing frames shows). Memory only: CPU is bench:camera's.
 *
 *   npx tsx bench/camera-memory.ts [--size 1080p|720p|360p] [--seconds 12] [--keyframes|--full|both (default)]
 *                                  [--variants base,probe,nobuffer,lowdelay]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildFfmpegArgs } from '../src/camera/ffmpeg.js';
import { PpmStreamParser } from '../src/camera/ppm.js';
import { tempDir } from '../test/helpers/media.js';
import { makeH264Clip, startRtspServer } from '../test/helpers/rtsp.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '1080p' },
    seconds: { type: 'string', default: '12' },
    keyframes: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    variants: { type: 'string', default: 'base' },
  },
});
const SIZES = {
  '360p': { width: 640, height: 360, bitrate: '1M' },
  '720p': { width: 1280, height: 720, bitrate: '2M' },
  '1080p': { width: 1920, height: 1080, bitrate: '4M' },
} as const;
/** Extra input options tried against the service's command line (before -i, so they apply to the camera). */
const VARIANTS: Record<string, string[]> = {
  base: [],
  probe: ['-probesize', '32768', '-analyzeduration', '0'],
  nobuffer: ['-fflags', 'nobuffer'],
  lowdelay: ['-flags', 'low_delay', '-max_delay', '0', '-reorder_queue_size', '0'],
};
const SIZE = SIZES[args.size as keyof typeof SIZES];
const SECONDS = Number(args.seconds);
const MODES = args.keyframes === args.full ? [true, false] : [args.keyframes];
const NAMES = args.variants.split(',');
if (!SIZE || !(SECONDS > 0) || !NAMES.every((n) => n in VARIANTS)) {
  console.error(`usage: npx tsx bench/camera-memory.ts [--size 1080p|720p|360p] [--seconds 12] [--keyframes|--full]
                                  [--variants ${Object.keys(VARIANTS).join(',')}]`);
  process.exit(2);
}
const MiB = 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pss and private KiB per kind of mapping. */
function smapsGroups(pid: number): Map<string, { pss: number; priv: number }> {
  const groups = new Map<string, { pss: number; priv: number }>();
  let name = '';
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (m) {
      const mapped = m[1] || '[anon]';
      name = mapped.startsWith('/') ? (mapped.includes('.so') ? 'libs' : 'executable') : mapped;
      continue;
    }
    const k = /^(Pss|Private_Dirty|Private_Clean):\s+(\d+) kB/.exec(line);
    if (!k) continue;
    const g = groups.get(name) ?? { pss: 0, priv: 0 };
    if (k[1] === 'Pss') g.pss += Number(k[2]);
    else g.priv += Number(k[2]);
    groups.set(name, g);
  }
  return groups;
}

function rollup(pid: number, key: string): number {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const tmp = tempDir('roomcount-bench-camera-memory-');
  const clip = makeH264Clip(join(tmp.dir, `${args.size}.h264`), {
    ...SIZE!,
    fps: 25,
    seconds: 10,
    gop: 25,
    preset: 'veryfast',
  });
  const server = await startRtspServer({ file: clip, fps: 25, shared: true });
  console.log(
    `one ffmpeg on an RTSP ${args.size} 25 fps GOP 25 camera, sampleFps 1, frames scaled to short side 480; ` +
      `smaps after ${SECONDS} s (MiB)`,
  );
  try {
    for (const keyframesOnly of MODES) {
      for (const name of NAMES) {
        const service = buildFfmpegArgs({
          url: server.url,
          transport: 'tcp',
          loop: true,
          sampleFps: 1,
          limit: { shortSide: 480, longSide: 1280 },
          watchdogSeconds: 10,
          keyframesOnly,
        });
        const at = service.indexOf('-i');
        const cmd = [...service.slice(0, at), ...VARIANTS[name]!, ...service.slice(at)];
        const child = spawn('ffmpeg', cmd, { stdio: ['ignore', 'pipe', 'pipe'] });
        const parser = new PpmStreamParser();
        let frames = 0;
        child.stdout.on('data', (b: Buffer) => (frames += parser.push(b).length));
        let stderr = '';
        child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
        await sleep(SECONDS * 1000);
        const pid = child.pid!;
        const threads = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        const priv = rollup(pid, 'Private_Clean') + rollup(pid, 'Private_Dirty');
        const groups = [...smapsGroups(pid)]
          .filter(([, g]) => g.priv >= 100)
          .sort((a, b) => b[1].priv - a[1].priv)
          .map(([n, g]) => `${n} ${(g.priv / MiB).toFixed(1)}`)
          .join(', ');
        console.log(
          `${keyframesOnly ? 'key frames ' : 'full decode'} ${name.padEnd(9)} RSS ${(rollup(pid, 'Rss') / MiB).toFixed(1)}` +
            ` PSS ${(rollup(pid, 'Pss') / MiB).toFixed(1)} private ${(priv / MiB).toFixed(1)} (${groups}); ` +
            `${threads} threads; ${frames} frames` +
            (stderr.trim() ? `; ffmpeg said: ${stderr.trim().split('\n').at(-1)}` : ''),
        );
        child.kill('SIGTERM');
        await new Promise((r) => child.on('close', r));
      }
    }
  } finally {
    await server.stop();
    tmp.cleanup();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
