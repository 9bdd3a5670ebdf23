#!/usr/bin/env node
import { Command, Option } from 'commander';
import { loadConfig, ConfigError, maskConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { parseInputSize, parseScore, parseTiles } from './commands/detector-options.js';
import type { TileSetting } from './detect/detector.js';
import { COCO_SSD_BASES, MAX_TIMER_SECONDS, MODELS } from './config/schema.js';
import { fetchableModels } from './detect/models.js';

const EXIT_BAD_CONFIG = 2;

function parsePort(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) throw new Error(`expected a port 0..65535, got "${value}"`);
  return n;
}

/** Config problems end the command with exit code 2 and one line per problem. */
function withConfigErrors<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n${err.problems.length} problem(s) in the configuration\n`);
        process.exitCode = EXIT_BAD_CONFIG;
        return;
      }
      throw err;
    }
  };
}

/** Options shared by count, eval and snapshot: which detector, and how images are fed to it. */
function withModelOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--model <name>', "detector model instead of the config's").choices(MODELS))
    .option('--model-path <path>', 'model file or folder for --model (yolox_nano.onnx, coco-ssd folder)')
    .option('--min-score <score>', "detector minScore instead of the config's (0..1)", parseScore)
    .option('--tiles <tiles>', 'auto, off, or COLUMNSxROWS[:OVERLAP] (e.g. 2x1:0.25)', parseTiles)
    .option('--input-size <n>', 'models with a dynamic input: the short side to run at', parseInputSize)
    .option(
      '--full-res',
      "detect on full-size images (default: scaled to the detector's input box, as the camera does)",
    );
}

/** count and eval: the config and the room are optional. */
function withDetectorOptions(cmd: Command): Command {
  return withModelOptions(
    cmd
      .option('-c, --config <file>', "YAML configuration file (detector; with --room, that room's filter)")
      .option('--room <id>', "apply this room's region, box-area limits and minScore"),
  );
}

interface DetectorFlags {
  config?: string;
  room?: string;
  model?: string;
  modelPath?: string;
  minScore?: number;
  tiles?: TileSetting;
  inputSize?: number;
  fullRes?: boolean;
}

/** What withDetectorOptions' flags choose, in the shape count and eval take. */
function detectorChoice(opts: DetectorFlags) {
  return {
    config: opts.config ? loadConfig(opts.config) : undefined,
    roomId: opts.room,
    model: opts.model,
    modelPath: opts.modelPath,
    minScore: opts.minScore,
    tiles: opts.tiles,
    inputSize: opts.inputSize,
    fullResolution: opts.fullRes ?? false,
  };
}

// Each command's module is imported when it runs, so that `run` with yolox-nano never loads tfjs (~50 MiB).
const program = new Command()
  .name('roomcount')
  .description('Counts people in meeting rooms from cameras and reports occupancy to Calven.')
  .showHelpAfterError();

program
  .command('run')
  .description('run every room until SIGTERM/SIGINT; SIGHUP or a change of the file reloads the rooms')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .option(
    '--shard <I/N>',
    'run only the rooms of shard I of N (0-based), e.g. 0/3; overrides shard: in the file',
  )
  .option('--no-watch', 'do not reload when the config file changes (SIGHUP still reloads)')
  .action(
    withConfigErrors(async (opts: { config: string; shard?: string; watch: boolean }) => {
      const { runService } = await import('./commands/run.js');
      await runService({ configFile: opts.config, shard: opts.shard, watchConfig: opts.watch });
    }),
  );

program
  .command('check-config')
  .description('validate a configuration file and print what it sets up (secrets masked)')
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .action(
    withConfigErrors(async (opts: { config: string }) => {
      const config = loadConfig(opts.config, process.env, { preflight: true });
      const masked = maskConfig(config) as Config;
      const lines = [
        `${opts.config}: OK`,
        `sink: ${config.sink}${config.sink === 'calven' ? ` (${masked.calven?.baseUrl}, auth ${config.calven?.auth?.type})` : ''}`,
        `detector: ${config.detector.model}` +
          (config.detector.model === 'auto'
            ? ' (the most accurate installed model; `roomcount models list`)'
            : '') +
          ` (minScore ${config.detector.minScore ?? "the model's own"})`,
        `rooms: ${config.rooms.length}`,
      ];
      for (const room of masked.rooms) {
        lines.push(
          `  ${room.id}  ${room.locationType} ${room.locationId}  ${room.camera.url}  ${room.sampleFps} fps, window ${room.windowSeconds} s`,
        );
      }
      process.stdout.write(lines.join('\n') + '\n');
    }),
  );

withDetectorOptions(
  program
    .command('count')
    .description('count people in image files with the configured detector')
    .argument('<images...>', 'image files (jpg, png, webp)')
    .addOption(new Option('--json', 'one JSON object per line'))
    .option(
      '--annotate <dir>',
      'also write each image with the region and every detection drawn on it to DIR/<name>.jpg',
    ),
).action(
  withConfigErrors(async (images: string[], opts: DetectorFlags & { json?: boolean; annotate?: string }) => {
    const { countImages } = await import('./commands/count.js');
    await countImages(images, {
      ...detectorChoice(opts),
      json: opts.json ?? false,
      annotateDir: opts.annotate,
    });
  }),
);

withModelOptions(
  program
    .command('snapshot')
    .description(
      "one picture from a room's camera with its region, every detection (counted or why not) and the count; " +
        'written to --out only',
    )
    .requiredOption('-c, --config <file>', 'YAML configuration file')
    .requiredOption('--room <id>', 'the room whose camera and region to show')
    .requiredOption('--out <file.jpg>', 'the JPEG to write (its folder must exist)')
    .option(
      '--timeout <seconds>',
      'give up when the camera sends no picture within this long',
      (v: string) => {
        const n = Number(v);
        if (!(n > 0 && n <= MAX_TIMER_SECONDS))
          throw new Error(`expected a number of seconds from 0 to ${MAX_TIMER_SECONDS}, got "${v}"`);
        return n;
      },
      15,
    ),
).action(
  withConfigErrors(
    async (opts: DetectorFlags & { config: string; room: string; out: string; timeout: number }) => {
      const { snapshotRoom } = await import('./commands/snapshot.js');
      const choice = detectorChoice(opts);
      await snapshotRoom({
        ...choice,
        config: choice.config!,
        roomId: opts.room,
        out: opts.out,
        timeoutSeconds: opts.timeout,
      });
    },
  ),
);

interface EvalFlags extends DetectorFlags {
  dataset?: string;
  video?: string;
  truth?: string;
  verbose?: boolean;
  sweep?: boolean;
  compare?: boolean;
}

/** `eval` scores either a folder of images or a video: exactly one, each with its own options. */
function evalProblem(o: EvalFlags): string | undefined {
  const usage = 'use --dataset DIR, or --video FILE --truth CSV';
  if (o.dataset !== undefined && (o.video !== undefined || o.truth !== undefined))
    return `--dataset and --video/--truth are alternatives: ${usage}`;
  if (o.dataset === undefined && o.video === undefined && o.truth === undefined)
    return `nothing to score: ${usage}`;
  if (o.dataset !== undefined)
    return o.compare ? '--compare goes with --video (with --dataset, --sweep)' : undefined;
  if (o.video === undefined) return '--truth goes with --video FILE (the video it labels)';
  if (o.truth === undefined)
    return `--video needs --truth CSV (start_s,end_s,count: the true count over time)`;
  if (o.sweep) return '--sweep goes with --dataset; with --video, --compare replays smoothing settings';
  if (o.fullRes)
    return '--full-res goes with --dataset (video frames are scaled by ffmpeg as the camera does)';
  return undefined;
}

withDetectorOptions(
  program
    .command('eval')
    .description(
      'count accuracy: on a folder of images with counts.csv (file,person_count), or on a video with the ' +
        'true count over time (start_s,end_s,count), through the whole room pipeline',
    )
    .option('--dataset <dir>', 'folder with counts.csv (and optionally details.csv) and the images')
    .option('--video <file>', "video file to run a room on (--room ID: that room's settings and region)")
    .option('--truth <csv>', 'with --video: the true count over time, start_s,end_s,count')
    .option('-v, --verbose', 'also print a per-image table (--video: every event and true change)')
    .option('--sweep', 'also score at minScore 0.200, 0.225 ... 0.600 (one detector run; --dataset)')
    .option('--compare', 'also replay other smoothing, window and hold settings (one detector run; --video)'),
).action(
  withConfigErrors(async (opts: EvalFlags) => {
    const problem = evalProblem(opts);
    if (problem) throw new Error(`eval: ${problem}`);
    if (opts.video !== undefined) {
      const { evalVideo } = await import('./commands/eval-video.js');
      const { config, roomId, model, modelPath, minScore } = detectorChoice(opts);
      await evalVideo({
        video: opts.video,
        truth: opts.truth!,
        config,
        roomId,
        model,
        modelPath,
        minScore,
        verbose: opts.verbose ?? false,
        compare: opts.compare ?? false,
      });
      return;
    }
    const { evalDataset } = await import('./commands/eval.js');
    await evalDataset({
      ...detectorChoice(opts),
      dataset: opts.dataset!,
      verbose: opts.verbose ?? false,
      sweep: opts.sweep ?? false,
    });
  }),
);

program
  .command('bench')
  .description(
    'time each available model × geometry (square / native aspect / tiles): ms/frame, frames/s, rooms per box',
  )
  .argument('[images...]', 'time on these images instead of rendered 1280x720 and 1280x640 frames')
  .option('-c, --config <file>', 'YAML configuration file (its detector and model paths)')
  .option('--models-dir <dir>', 'where fetched models are, instead of the models folder')
  .option('--models <list>', `comma-separated subset of ${MODELS.join(',')}`, (v: string) =>
    v
      .split(',')
      .map((m) => m.trim())
      .filter(Boolean),
  )
  .option('--iterations <n>', 'timed runs per model and frame', (v: string) => Number(v), 20)
  .option('--warmup <n>', 'untimed runs first', (v: string) => Number(v), 3)
  .action(
    withConfigErrors(
      async (
        images: string[],
        opts: {
          config?: string;
          models?: string[];
          iterations: number;
          warmup: number;
          modelsDir?: string;
        },
      ) => {
        const config = opts.config ? loadConfig(opts.config) : undefined;
        const { bench } = await import('./commands/bench.js');
        await bench({
          config,
          images,
          models: opts.models,
          iterations: opts.iterations,
          warmup: opts.warmup,
          modelsDir: opts.modelsDir,
        });
      },
    ),
  );

program
  .command('setup')
  .description("local page to draw each room's region on its live frame and tune minScore; prints the YAML")
  .requiredOption('-c, --config <file>', 'YAML configuration file')
  .option('--port <port>', 'port to listen on (default: a free one)', parsePort)
  .option('--host <host>', 'interface to listen on; anything but loopback exposes the cameras', '127.0.0.1')
  .option(
    '--write',
    'offer "Save to FILE": write a room\'s region (and minScore) into the file, comments kept',
  )
  .action(
    withConfigErrors(async (opts: { config: string; port?: number; host: string; write?: boolean }) => {
      const { runSetup } = await import('./commands/setup.js');
      await runSetup({
        configFile: opts.config,
        port: opts.port ?? 0,
        host: opts.host,
        write: opts.write ?? false,
      });
    }),
  );

program
  .command('outbox')
  .description('show pending and dead-lettered events; --retry-dead queues dead letters again')
  .requiredOption('-c, --config <file>', 'YAML configuration file (its stateDir)')
  .option('--retry-dead', 'move dead-lettered events back to pending (after fixing their cause)')
  .option('--list', 'list dead-lettered events with the reason Calven gave')
  .option('--room <id>', 'only this room (with --retry-dead or --list)')
  .action(
    withConfigErrors(async (opts: { config: string; retryDead?: boolean; list?: boolean; room?: string }) => {
      const { outboxCommand } = await import('./commands/outbox.js');
      outboxCommand(loadConfig(opts.config), {
        retryDead: opts.retryDead ?? false,
        list: opts.list ?? false,
        room: opts.room,
      });
    }),
  );

const models = program.command('models').description('get model weights that do not ship with roomcount');
models
  .command('fetch')
  .description(
    'download a model from its pinned URL, check its pinned sha256, install it into the models folder ' +
      '(coco-ssd: into --dir, recording hashes in DIR/SHA256SUMS)',
  )
  .argument('<model>', fetchableModels().join(', '))
  .option('--dir <dir>', 'install here instead of the models folder (coco-ssd: required)')
  .addOption(
    new Option('--base <base>', 'coco-ssd base network').choices(COCO_SSD_BASES).default('lite_mobilenet_v2'),
  )
  .option(
    '--url <url>',
    'download from this URL (a mirror) instead of the pinned one; the pinned hash still applies',
  )
  .action(async (model: string, opts: { dir?: string; base: string; url?: string }) => {
    const { modelsFetchCommand } = await import('./commands/models.js');
    await modelsFetchCommand(model, opts);
  });
models
  .command('list')
  .description('every model roomcount knows, whether it is installed, and what detector.model auto uses')
  .action(async () => {
    const { listModels } = await import('./commands/models.js');
    listModels();
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`roomcount: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
