import { z } from 'zod';
import { toPolygons } from '../count/region.js';
import { isSmoothingMethod, type SmoothingMethod } from '../count/smoothing.js';
import { MAX_TIMEOUT_MS } from '../camera/timer.js';
import { MAX_TILES_PER_SIDE } from '../detect/geometry.js';
import {
  DETECTOR_OPTIONS,
  INPUT_SIZE,
  MODEL_NAMES,
  takesOption,
  type DetectorOption,
  type ModelName,
} from '../detect/models.js';

/** Normalised point [x, y], both 0..1 (0,0 = top-left of the picture). */
const point = z.tuple([z.number().min(0).max(1), z.number().min(0).max(1)]);
const polygon = z.array(point).min(3, 'a polygon needs at least 3 points');

export const LOCATION_TYPES = ['level', 'location', 'place', 'space', 'zone'] as const;
/** `auto` (the most accurate installed model) and every model of src/detect/models.ts. */
export const MODELS = ['auto', ...MODEL_NAMES] as const;
/** coco-ssd base networks (fastest first). */
export const COCO_SSD_BASES = ['lite_mobilenet_v2', 'mobilenet_v1', 'mobilenet_v2'] as const;
export const ANCHORS = ['bottom-center', 'center'] as const;

/** Node timers hold at most 2^31−1 ms (about 24.8 days); a longer delay overflows and fires after 1 ms. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMEOUT_MS / 1000);
const TIMER_LIMIT = `must be at most ${MAX_TIMER_SECONDS} (about 24 days, the longest a timer can wait)`;
/** A duration in seconds (or, with `perSecond` 1/60, minutes) that a timer may wait for. */
const duration = (perSecond = 1) => z.number().max(Math.floor(MAX_TIMER_SECONDS * perSecond), TIMER_LIMIT);
/** One frame a day: the camera watchdog (5 frame intervals) and the frame timer stay within a timer's range. */
const MIN_SAMPLE_FPS = 1 / 86_400;
/** Frames per second: at most 30, at least one a day. */
const sampleRate = () =>
  z
    .number()
    .positive()
    .max(30)
    .refine((v) => !(v > 0) || v >= MIN_SAMPLE_FPS, 'must be at least 0.0000116 (one frame a day)');

const camera = z.strictObject({
  /** rtsp://, rtsps://, file: URL or a local file path. */
  url: z.string().min(1),
  /** RTSP lower transport. */
  transport: z.enum(['tcp', 'udp']).default('tcp'),
  /** Local files only: start again at the end (true) or stop (false). */
  loop: z.boolean().default(true),
  /** Decode key frames only (ffmpeg -skip_frame nokey): ~6x less CPU at 1080p; sampling then follows the GOP. */
  keyframesOnly: z.boolean().default(false),
  /** No frame for this many seconds → ffmpeg is restarted. Default: max(10, 5 / sampleFps). */
  watchdogSeconds: duration().positive().optional(),
});

/** One polygon or a list of them in YAML; always a list once parsed. */
const polygons = z.union([polygon, z.array(polygon)]).transform((v) => toPolygons(v));

const region = z.strictObject({
  /** A person counts when its anchor point is inside any include polygon (none: the whole picture)... */
  include: polygons.default([]),
  /** ...and inside no exclude polygon. */
  exclude: polygons.default([]),
  /** The point of a person's box that must be in the region: feet (bottom-center) or middle (center). */
  anchor: z.enum(ANCHORS).default('bottom-center'),
});

/** Overlapping tiles: `auto` (from the frame's aspect ratio), `off` (one pass), or a grid. */
const tiles = z.union([
  z.enum(['auto', 'off']),
  z.strictObject({
    columns: z.number().int().min(1).max(MAX_TILES_PER_SIDE),
    rows: z.number().int().min(1).max(MAX_TILES_PER_SIDE).default(1),
    /** Share of a tile's width (height) shared with its neighbour. */
    overlap: z.number().min(0).max(0.5).default(0.25),
  }),
]);

/** A box size as a fraction of the frame area. */
const areaFraction = z.number().min(0).max(1);

/** Keys that may appear in a room and under `defaults:`. */
export const roomSettingsShape = {
  sampleFps: sampleRate().default(1),
  /**
   * Adaptive sampling: while the room's count holds, frames are analysed less often, down to this rate; at once
   * back to sampleFps when a frame's count differs from the reported one. ≥ sampleFps = always sampleFps.
   * Default 0.25 (src/count/sampling.ts).
   */
  minSampleFps: sampleRate().optional(),
  windowSeconds: z.number().positive().max(3600).default(10),
  heartbeatSeconds: duration().min(0).default(0),
  /** How the counts in the window become one count: median, mode, max or a percentile p1..p99. */
  smoothing: z
    .string()
    .refine(isSmoothingMethod, {
      error: (issue) =>
        `expected median, mode, max or a percentile p1..p99 (e.g. p75); got ${JSON.stringify(issue.input)}`,
    })
    .transform((v) => v as SmoothingMethod)
    .default('median'),
  /** A new smoothed count must hold this long before it is reported. */
  minStableSeconds: duration().min(0).default(2),
  /**
   * Occupied → empty must hold this long (people step out briefly). 10, not 20: with `eval --video` on the COCO
   * slideshow, the one-by-one clip and degraded clips it was never worse and reports an emptied room 10 s sooner.
   */
  emptyHoldSeconds: duration().min(0).default(10),
  /** At most one event per room per this many seconds. */
  minEventIntervalSeconds: duration().min(0).default(5),
  /** No frame for this long → the room's count is reported as unknown in status (nothing is sent). */
  staleSeconds: duration().positive().default(60),
  /** Raises (never lowers) detector.minScore for this room. */
  minScore: z.number().min(0).max(1).optional(),
  /** Ignore person boxes smaller than this fraction of the frame area (e.g. people seen through a glass wall). */
  minBoxArea: areaFraction.optional(),
  /** Ignore person boxes larger than this fraction of the frame area (e.g. someone right in front of the lens). */
  maxBoxArea: areaFraction.optional(),
  /** Tiles for this room's frames instead of the detector's (e.g. a wide panorama among 4:3 rooms). */
  tiles: tiles.optional(),
  /**
   * A sampled frame that looks like the last analysed one (no cell of a coarse luminance grid changed) keeps that
   * frame's count without the detector; a still room is still analysed once a minute (src/count/still.ts).
   */
  skipStillFrames: z.boolean().default(true),
  /**
   * A person-shaped box that stays put this long (a poster, a screen, a reflection) is suggested in /status as a
   * region.exclude polygon (never applied); 0 = off.
   */
  stationaryMinutes: duration(1 / 60)
    .min(0)
    .default(60),
  camera: camera,
  region: region.default({ include: [], exclude: [], anchor: 'bottom-center' }),
} as const;

/** A room's keys (those `defaults:` may give: all but id and locationId). */
export const roomShape = {
  id: z
    .string()
    .min(1)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'room id may use letters, digits, "-", "_" and "." only'),
  locationId: z.string().min(1),
  locationType: z.enum(LOCATION_TYPES),
  ...roomSettingsShape,
};

/** The camera watchdog when camera.watchdogSeconds is not set: five frame intervals, at least 10 s. */
function defaultWatchdogSeconds(sampleFps: number): number {
  return Math.max(10, 5 / sampleFps);
}

/** A room, with the defaults that depend on its other keys filled in. */
export const roomSchema = z
  .strictObject(roomShape)
  .superRefine((room, ctx) => {
    if (room.minBoxArea !== undefined && room.maxBoxArea !== undefined && room.minBoxArea > room.maxBoxArea) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxBoxArea'],
        message: `maxBoxArea (${room.maxBoxArea}) is below minBoxArea (${room.minBoxArea}): no person could count`,
      });
    }
  })
  .transform((room) => ({
    ...room,
    camera: {
      ...room.camera,
      watchdogSeconds: room.camera.watchdogSeconds ?? defaultWatchdogSeconds(room.sampleFps),
    },
  }));

const hmacAuth = z.strictObject({
  type: z.literal('hmac'),
  apiKey: z.string().min(1),
  apiSecret: z.string().min(1),
});
const oauthAuth = z.strictObject({
  type: z.literal('oauth'),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
});

/** Every detector key with its values (which model takes which key: `detector` below). */
const detectorShape = {
  model: z.enum(MODELS).default('auto'),
  modelPath: z.string().min(1).optional(),
  modelUrl: z.url().optional(),
  /** ONNX models: expected sha256 (hex) of the modelPath file; default: the pinned official file's. */
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex digits')
    .transform((v) => v.toLowerCase())
    .optional(),
  /** coco-ssd: base network. */
  base: z.enum(COCO_SSD_BASES).optional(),
  /** Default: the model's own threshold (src/detect/models.ts). */
  minScore: z.number().min(0).max(1).optional(),
  /** Models with a dynamic input (rtmdet-nano): the short side to run at, a multiple of 32. */
  inputSize: z
    .number()
    .int()
    .min(INPUT_SIZE.min)
    .max(INPUT_SIZE.max)
    .multipleOf(INPUT_SIZE.multipleOf, `inputSize must be a multiple of ${INPUT_SIZE.multipleOf}`)
    .optional(),
  tiles: tiles.optional(),
  /**
   * Detector worker threads, each with its own copy of the model; default: one per core the process may use
   * (os.availableParallelism()). 0 = detect on the main thread, as before the pool.
   */
  workers: z.number().int().min(0).max(64).optional(),
};

/** Why a model does not take a key: `auto` takes no file, other models name those that take the key. */
function notTakenMessage(model: 'auto' | ModelName, key: DetectorOption): string {
  if (model === 'auto' && key === 'modelPath')
    return "detector.modelPath names one model's file: set detector.model to that model (not auto)";
  const takers = MODEL_NAMES.filter((m) => takesOption(m, key));
  return `detector.${key} applies to ${takers.join(', ')} only (model is "${model}")`;
}

/** One model's `detector`: its own name, and each key it does not take (its descriptor says which) left out. */
function detectorOf(model: 'auto' | ModelName) {
  const notTaken = Object.fromEntries(
    DETECTOR_OPTIONS.filter((key) => !takesOption(model, key)).map((key) => [
      key,
      z.never({ error: notTakenMessage(model, key) }).optional(),
    ]),
  );
  return z.strictObject({ ...detectorShape, ...notTaken, model: z.literal(model) });
}

/**
 * `detector`: first every key's value (a bad model is reported with a bad tiles in the same run, and a misspelt key
 * gets a "did you mean"), then a union of one object per model, built from the descriptors, that leaves out the
 * keys the chosen model does not take. Both stages give the value object's shape.
 */
const detector = z
  .strictObject(detectorShape)
  .pipe(
    z.discriminatedUnion('model', [
      detectorOf('auto'),
      ...MODEL_NAMES.map(detectorOf),
    ]) as unknown as z.ZodType<DetectorValues, DetectorValues>,
  )
  .superRefine((d, ctx) => {
    if (d.modelPath !== undefined && d.modelUrl !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['modelUrl'],
        message: 'set either detector.modelPath or detector.modelUrl, not both',
      });
    }
  })
  .default({ model: 'auto' });
type DetectorValues = z.output<z.ZodObject<typeof detectorShape>>;

export const configSchema = z
  .strictObject({
    sourceId: z.string().min(1).default('roomcount'),
    sink: z.enum(['calven', 'stdout']).default('calven'),
    calven: z
      .strictObject({
        baseUrl: z.url({ protocol: /^https?$/ }).default('https://api.calven.com'),
        auth: z.discriminatedUnion('type', [hmacAuth, oauthAuth]).optional(),
      })
      .optional(),
    detector,
    stateDir: z.string().min(1).default('./state'),
    http: z
      .strictObject({
        port: z.number().int().min(0).max(65535).default(9464),
        /** Interface to listen on; 127.0.0.1 keeps status and metrics on the box. */
        host: z.string().min(1).default('0.0.0.0'),
      })
      .default({ port: 9464, host: '0.0.0.0' }),
    /** Run only the rooms of shard "I/N" (0 ≤ I < N); the command line's --shard wins. */
    shard: z
      .string()
      .regex(/^\d+\/\d+$/, 'shard must look like "0/3"')
      .refine((v) => {
        const m = /^(\d+)\/(\d+)$/.exec(v); // not in that form: the regex above says so
        return !m || Number(m[1]) < Number(m[2]);
      }, 'shard "I/N" needs 0 <= I < N (e.g. "0/3"): run refuses any other')
      .optional(),
    rooms: z.array(roomSchema).min(1, 'at least one room is needed'),
  })
  .superRefine((cfg, ctx) => {
    if (cfg.sink === 'calven' && !cfg.calven?.auth) {
      ctx.addIssue({
        code: 'custom',
        path: ['calven', 'auth'],
        message: 'sink is "calven" but calven.auth is missing (use sink: stdout for a dry run)',
      });
    }
    // Duplicate room ids: checked by the loader (src/config/load.ts), also when other keys are wrong.
  });

export type Config = z.infer<typeof configSchema>;
export type RoomConfig = Config['rooms'][number];
export type DetectorConfig = Config['detector'];
export type LocationType = (typeof LOCATION_TYPES)[number];
export type CocoSsdBase = (typeof COCO_SSD_BASES)[number];

/** The keys the schema allows at a path (for "did you mean" suggestions). */
export function keysAt(schema: z.ZodType, path: readonly (string | number)[]): string[] {
  return schemasAt(schema, path).flatMap((s) => Object.keys(defOf(s).shape ?? {}));
}

/** The parts of a zod schema the walks below look at. */
export function defOf(schema: z.ZodType) {
  return schema.def as unknown as {
    type: string;
    innerType?: z.ZodType;
    in?: z.ZodType;
    options?: z.ZodType[];
    shape?: Record<string, z.ZodType>;
    element?: z.ZodType;
  };
}

/**
 * The schemas a value at `path` is checked against: defaults/optionals and pipes unwrapped, every option of a
 * union followed.
 */
export function schemasAt(schema: z.ZodType, path: readonly (string | number)[]): z.ZodType[] {
  const def = defOf(schema);
  if (def.innerType) return schemasAt(def.innerType, path);
  if (def.type === 'pipe' && def.in) return schemasAt(def.in, path);
  if (def.options) return def.options.flatMap((o) => schemasAt(o, path));
  const [seg, ...rest] = path;
  if (seg === undefined) return [schema];
  const next = typeof seg === 'number' ? def.element : def.shape?.[seg];
  return next ? schemasAt(next, rest) : [];
}
