/**
 * Incremental reader for a stream of binary PPM (P6, maxval 255) pictures, as written by
 * `ffmpeg -f image2pipe -c:v ppm`. Every picture carries its own size, so framing stays right even when a
 * camera changes resolution mid-stream.
 */
export interface RawPicture {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A picture whose pixels were passed over (`accept` said no): its size only, nothing allocated or copied. */
export interface SkippedPicture {
  width: number;
  height: number;
  skipped: true;
}

const MAX_HEADER = 64;
const MAX_SIDE = 16_384;

export class PpmStreamParser {
  /** Bytes of a header not complete yet (a few dozen at most). */
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The picture being filled: its pixels go straight into their own buffer, copied once. */
  private picture: { width: number; height: number; data: Buffer; filled: number } | undefined;
  /** A picture being passed over: how many of its pixel bytes are still to come. */
  private skipping: { width: number; height: number; remaining: number } | undefined;

  /**
   * Feeds bytes; returns every picture completed by them (usually 0 or 1). Throws on a corrupt stream. Each
   * picture's pixels are copied once from the pipe's chunks into a buffer of exactly their size (its own
   * ArrayBuffer: it can be lent to a detector worker without another copy), so a 30-camera box does not churn
   * through three copies of every frame (which kept V8 collecting garbage ten times a second).
   *
   * `accept`, asked when a picture's header has arrived, may pass it over: its pixels are then neither allocated
   * nor copied (a quiet room takes one frame in four), and it comes out as a SkippedPicture.
   */
  push(chunk: Buffer, accept?: () => boolean): RawPicture[];
  push(chunk: Buffer, accept: () => boolean): Array<RawPicture | SkippedPicture>;
  push(chunk: Buffer, accept?: () => boolean): Array<RawPicture | SkippedPicture> {
    const out: Array<RawPicture | SkippedPicture> = [];
    let rest = chunk;
    while (rest.length > 0) {
      if (this.skipping) {
        const p = this.skipping;
        const n = Math.min(rest.length, p.remaining);
        p.remaining -= n;
        rest = rest.subarray(n);
        if (p.remaining === 0) {
          out.push({ width: p.width, height: p.height, skipped: true });
          this.skipping = undefined;
        }
        continue;
      }
      if (this.picture) {
        const p = this.picture;
        const n = Math.min(rest.length, p.data.length - p.filled);
        rest.copy(p.data, p.filled, 0, n);
        p.filled += n;
        rest = rest.subarray(n);
        if (p.filled === p.data.length) {
          out.push({ width: p.width, height: p.height, data: p.data });
          this.picture = undefined;
        }
        continue;
      }
      this.head.push(rest);
      this.headBytes += rest.length;
      const head = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head, this.headBytes);
      const header = parseHeader(head.subarray(0, MAX_HEADER));
      if (header === 'incomplete') {
        if (this.headBytes >= MAX_HEADER) throw new Error('corrupt frame stream: no PPM header found');
        // Keep only what is needed for the header (a large chunk's pixels are not kept alive by it).
        this.head = [Buffer.from(head)];
        return out;
      }
      this.head = [];
      this.headBytes = 0;
      const bytes = header.width * header.height * 3;
      if (accept && !accept()) {
        this.skipping = { width: header.width, height: header.height, remaining: bytes };
      } else {
        const data = Buffer.allocUnsafeSlow(bytes);
        this.picture = { width: header.width, height: header.height, data, filled: 0 };
      }
      rest = head.subarray(header.headerLength);
    }
    return out;
  }

  /** Bytes held for an incomplete picture (its header, or the pixels received so far). */
  get pendingBytes(): number {
    const skipped = this.skipping
      ? this.skipping.width * this.skipping.height * 3 - this.skipping.remaining
      : 0;
    return this.headBytes + (this.picture?.filled ?? 0) + skipped;
  }

  reset(): void {
    this.head = [];
    this.headBytes = 0;
    this.picture = undefined;
    this.skipping = undefined;
  }
}

/** Parses "P6 <ws> width <ws> height <ws> 255 <single ws>"; comments are not produced by ffmpeg and not accepted. */
function parseHeader(buf: Buffer): { width: number; height: number; headerLength: number } | 'incomplete' {
  if (buf.length < 2) return 'incomplete';
  if (buf[0] !== 0x50 || buf[1] !== 0x36)
    throw new Error('corrupt frame stream: expected a PPM (P6) picture');
  const fields: number[] = [];
  let i = 2;
  while (fields.length < 3) {
    while (i < buf.length && isSpace(buf[i]!)) i++;
    const start = i;
    while (i < buf.length && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
    if (i >= buf.length) return 'incomplete';
    if (i === start || !isSpace(buf[i]!)) throw new Error('corrupt frame stream: bad PPM header');
    fields.push(Number(buf.subarray(start, i).toString('ascii')));
  }
  const [width, height, maxval] = fields as [number, number, number];
  if (maxval !== 255) throw new Error(`unsupported PPM maxval ${maxval}`);
  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE) {
    throw new Error(`corrupt frame stream: picture size ${width}x${height}`);
  }
  return { width, height, headerLength: i + 1 };
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
