import type { CameraState } from '../camera/ffmpeg.js';
import type { Frame } from '../camera/frame.js';
import type { Detection, DetectOptions, Detector } from '../detect/detector.js';

/** A camera as the setup page uses it: FfmpegCamera, or a fake in tests. */
export interface SetupCamera {
  readonly state: CameraState;
  on(event: 'frame', listener: (frame: Frame) => void): unknown;
  on(event: 'state', listener: (state: CameraState, detail: string) => void): unknown;
  start(): void;
  stop(): Promise<void>;
}

/** One analysed frame: what the page shows and recounts on. Kept in memory only. */
export interface Snapshot {
  seq: number;
  frame: Frame;
  detections: Detection[];
}

interface LiveRoom {
  camera: SetupCamera | undefined;
  detail: string;
  /** Newest frame from the camera, not analysed yet. */
  latest: Frame | undefined;
  snapshots: Snapshot[];
  analysing: Promise<Snapshot> | undefined;
  usedAt: number;
}

/** Analysed frames kept per room, so that a recount on the frame the page shows still finds it. */
const KEEP_SNAPSHOTS = 3;

export interface LiveRoomsOptions {
  roomIds: readonly string[];
  detector: Detector;
  makeCamera: (roomId: string) => SetupCamera;
  /** The room's own tiles, if it sets them. */
  detectOptions?: (roomId: string) => DetectOptions | undefined;
  /** A room's camera stops when the page has not asked for it for this long. Default 60 s. */
  idleMs?: number;
}

/**
 * Cameras for the setup page, started when the page first looks at a room and stopped when it has not for a
 * minute (a config with 40 rooms does not run 40 decoders). The detector runs only when the page asks for a new
 * frame, one frame at a time; frames and detections stay in memory.
 */
export class LiveRooms {
  private readonly rooms = new Map<string, LiveRoom>();
  private seq = 0;
  private detecting: Promise<unknown> = Promise.resolve();
  private readonly idleTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: LiveRoomsOptions) {
    for (const id of opts.roomIds) {
      this.rooms.set(id, {
        camera: undefined,
        detail: '',
        latest: undefined,
        snapshots: [],
        analysing: undefined,
        usedAt: 0,
      });
    }
    const idleMs = opts.idleMs ?? 60_000;
    this.idleTimer = setInterval(() => this.stopIdle(idleMs), Math.min(idleMs, 10_000));
    this.idleTimer.unref();
  }

  has(roomId: string): boolean {
    return this.rooms.has(roomId);
  }

  /** The camera's state ('connecting' before the page first asked for the room) and its last detail. */
  cameraState(roomId: string): { state: CameraState; detail: string } {
    const room = this.room(roomId);
    return { state: room.camera?.state ?? 'connecting', detail: room.detail };
  }

  /** The newest analysed frame: the camera's latest frame run through the detector if it is newer. */
  async newest(roomId: string): Promise<Snapshot | undefined> {
    const room = this.touch(roomId);
    if (room.analysing) return room.analysing;
    const frame = room.latest;
    if (!frame) return room.snapshots.at(-1);
    room.latest = undefined;
    room.analysing = this.analyse(room, frame, this.opts.detectOptions?.(roomId)).finally(
      () => (room.analysing = undefined),
    );
    return room.analysing;
  }

  /** An analysed frame by number (the one the page shows), if still kept. */
  snapshot(roomId: string, seq: number): Snapshot | undefined {
    return this.touch(roomId).snapshots.find((s) => s.seq === seq);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    await Promise.all([...this.rooms.values()].map((room) => this.stopCamera(room)));
    await this.detecting.catch(() => undefined);
  }

  private room(roomId: string): LiveRoom {
    const room = this.rooms.get(roomId);
    if (!room) throw new Error(`no room "${roomId}"`);
    return room;
  }

  private touch(roomId: string): LiveRoom {
    const room = this.room(roomId);
    room.usedAt = Date.now();
    if (!room.camera && !this.closed) {
      const camera = this.opts.makeCamera(roomId);
      camera.on('frame', (frame) => {
        if (room.camera === camera) room.latest = frame;
      });
      camera.on('state', (_state, detail) => {
        if (room.camera === camera) room.detail = detail;
      });
      room.camera = camera;
      camera.start();
    }
    return room;
  }

  /** One detector for all rooms: frames are analysed one after another. */
  private analyse(room: LiveRoom, frame: Frame, opts: DetectOptions | undefined): Promise<Snapshot> {
    const run = this.detecting.then(async () => {
      const detections = await this.opts.detector.detect(frame, opts);
      const snapshot = { seq: ++this.seq, frame, detections };
      room.snapshots = [...room.snapshots, snapshot].slice(-KEEP_SNAPSHOTS);
      return snapshot;
    });
    this.detecting = run.catch(() => undefined);
    return run;
  }

  private stopIdle(idleMs: number): void {
    const now = Date.now();
    for (const room of this.rooms.values()) {
      if (room.camera && now - room.usedAt > idleMs) void this.stopCamera(room);
    }
  }

  private async stopCamera(room: LiveRoom): Promise<void> {
    const camera = room.camera;
    room.camera = undefined;
    room.latest = undefined;
    await camera?.stop();
  }
}
