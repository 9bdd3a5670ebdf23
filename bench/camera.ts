/**
 * Cost of one camera's ffmpeg: 720p and 1080p H.264 at 25 fps (GOP 50) served over RTSP by the test server,
 * sampled at 1 fps into a 512x512 detector box, full decode vs key frames only. Measures ffmpeg's CPU (% of
 * one core, from /proc/<pid>/stat utime+stime over the window) and its RSS (/proc/<pid>/status VmRSS, peak of
 * 1 s samples). Table on stdout, progress on stderr.
 *
 *   npx tsx bench/camera.ts [--seconds 15]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FfmpegCamera } from '../src/camera/ffmpeg.js';
import { tempDir } from '../test/helpers/media.js';
import { makeH264Clip, startRtspServer } from '../test/helpers/rtsp.js';

const FPS = 25;
const GOP = 50;
const CLIP_SECONDS = 10;
const SAMPLE_FPS = 1;
const WARMUP_MS = 3000;
const secondsArg = process.argv.indexOf('--seconds');
const MEASURE_MS = 1000 * (secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 15);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Camera-like streams: x264 veryfast, main profile, no B frames, constant-ish bit rate. */
const INPUTS = [
  { name: '720p', width: 1280, height: 720, bitrate: '2M' },
  { name: '1080p', width: 1920, height: 1080, bitrate: '4M' },
];

const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cpuTicks(pid: number): number {
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

interface Result {
  input: string;
  mode: string;
  cpuPercent: number;
  rssMiB: number;
  frames: number;
  firstFrameMs: number;
}

async function measure(input: string, url: string, keyframesOnly: boolean): Promise<Result> {
  const mode = keyframesOnly ? 'key frames only' : 'full decode';
  const camera = new FfmpegCamera({
    url,
    transport: 'tcp',
    loop: false,
    sampleFps: SAMPLE_FPS,
    limit: { shortSide: 512, longSide: 512 },
    watchdogSeconds: 10,
    keyframesOnly,
  });
  let frames = 0;
  let firstFrameAt = 0;
  camera.on('frame', () => {
    frames++;
    firstFrameAt ||= Date.now();
  });
  camera.on('state', (state, detail) => progress(`${input} ${mode}: camera ${state} (${detail})`));
  const started = Date.now();
  camera.start();
  try {
    while (!firstFrameAt) {
      if (Date.now() - started > 15_000) throw new Error(`${input} ${mode}: no frame in 15 s`);
      await sleep(50);
    }
    await sleep(WARMUP_MS);
    const pid = camera.pid;
    if (pid === undefined) throw new Error(`${input} ${mode}: ffmpeg is not running`);
    progress(`${input} ${mode}: measuring ffmpeg ${pid} for ${MEASURE_MS / 1000} s`);
    const framesBefore = frames;
    const t0 = performance.now();
    const ticks0 = cpuTicks(pid);
    let rss = rssKiB(pid);
    for (let waited = 0; waited < MEASURE_MS; waited += 1000) {
      await sleep(1000);
      rss = Math.max(rss, rssKiB(pid));
    }
    if (camera.pid !== pid) throw new Error(`${input} ${mode}: ffmpeg restarted during the measurement`);
    const seconds = (performance.now() - t0) / 1000;
    const cpuPercent = ((cpuTicks(pid) - ticks0) / CLK_TCK / seconds) * 100;
    return {
      input,
      mode,
      cpuPercent,
      rssMiB: rss / 1024,
      frames: frames - framesBefore,
      firstFrameMs: firstFrameAt - started,
    };
  } finally {
    await camera.stop();
  }
}

async function main(): Promise<void> {
  const tmp = tempDir('roomcount-bench-');
  const results: Result[] = [];
  try {
    for (const input of INPUTS) {
      progress(
        `encoding ${input.name} (${input.width}x${input.height}, ${FPS} fps, GOP ${GOP}, ${CLIP_SECONDS} s)`,
      );
      const file = makeH264Clip(join(tmp.dir, `${input.name}.h264`), {
        width: input.width,
        height: input.height,
        fps: FPS,
        seconds: CLIP_SECONDS,
        gop: GOP,
        preset: 'veryfast',
        bitrate: input.bitrate,
      });
      const server = await startRtspServer({ file, fps: FPS });
      try {
        for (const keyframesOnly of [false, true])
          results.push(await measure(input.name, server.url, keyframesOnly));
      } finally {
        await server.stop();
      }
    }
  } finally {
    tmp.cleanup();
  }

  const rows = [
    [
      'input',
      'mode',
      'ffmpeg CPU (% of a core)',
      'ffmpeg RSS (MiB)',
      `frames / ${MEASURE_MS / 1000} s`,
      'first frame',
    ],
    ...results.map((r) => [
      `${r.input} ${FPS} fps GOP ${GOP}`,
      r.mode,
      r.cpuPercent.toFixed(1),
      r.rssMiB.toFixed(0),
      String(r.frames),
      `${(r.firstFrameMs / 1000).toFixed(1)} s`,
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  console.log(`ffmpeg per camera, RTSP over TCP, sampleFps ${SAMPLE_FPS}, scaled into 512x512`);
  console.log(line(rows[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('-|-'));
  for (const row of rows.slice(1)) console.log(line(row));
  const target = results.find((r) => r.input === '1080p' && r.mode === 'key frames only');
  if (target)
    console.log(`1080p key frames only: ${target.cpuPercent.toFixed(1)} % of a core (target ≤ 3 %)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
