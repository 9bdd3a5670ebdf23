import type { EventEmitter } from 'node:events';
import { FfmpegCamera, type CameraOptions, type CameraState, type FfmpegCameraEvents } from './ffmpeg.js';

/**
 * What a room needs from its camera: frames and state changes as events, the state now, and start/stop. An
 * FfmpegCamera in the service; a fake in tests of the room's rules (no ffmpeg).
 */
export interface FrameSource extends Pick<EventEmitter<FfmpegCameraEvents>, 'on'> {
  readonly state: CameraState;
  /** What the last state change said (redacted). */
  readonly stateDetail: string;
  /** The camera URL with credentials hidden: the only form of it to log or show. */
  readonly redactedUrl: string;
  start(): void;
  stop(): Promise<void>;
}

/** Opens a room's camera from the options the room derives from its config. */
export type OpenCamera = (options: CameraOptions) => FrameSource;

/** The service's camera: one ffmpeg process, restarted as needed. */
export const openFfmpegCamera: OpenCamera = (options) => new FfmpegCamera(options);
