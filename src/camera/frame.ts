/** One decoded picture from a camera. Lives only in memory: never written to disk, logs or responses. */
export interface Frame {
  width: number;
  height: number;
  /** Packed RGB24, row-major, width * height * 3 bytes. */
  data: Uint8Array;
  /** Wall-clock capture time (ms since epoch), taken when the frame's last byte arrived from ffmpeg. */
  capturedAt: number;
}

export function assertFrame(frame: Frame): void {
  const expected = frame.width * frame.height * 3;
  if (
    !Number.isInteger(frame.width) ||
    !Number.isInteger(frame.height) ||
    frame.width <= 0 ||
    frame.height <= 0
  ) {
    throw new Error(`invalid frame size ${frame.width}x${frame.height}`);
  }
  if (frame.data.length !== expected) {
    throw new Error(
      `frame data is ${frame.data.length} bytes, expected ${expected} for ${frame.width}x${frame.height} RGB`,
    );
  }
}
