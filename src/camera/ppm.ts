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

const MAX_HEADER = 64;
const MAX_SIDE = 16_384;

export class PpmStreamParser {
  /** Bytes of a header not complete yet (a few dozen at most). */
  private head: Buffer[] = [];
  private headBytes = 0;
  /** The picture being filled: its pixels go straight into their own buffer, copied once. */
  private picture: { width: number; height: number; data: Buffer; filled: number } | undefined;

  /**
   * Feeds bytes; returns every picture completed by them (usually 0 or 1). Throws on a corrupt stream. Each
   * picture's pixels are copied once from the pipe's chunks into a buffer of exactly their size (its own
   * ArrayBuffer: it can be lent to a detector worker without another copy), so a 30-camera box does not churn
   * through three copies of every frame (which kept V8 collecting garbage ten times a second).
   */
  push(chunk: Buffer): RawPicture[] {
    const out: RawPicture[] = [];
    let rest = chunk;
    while (rest.length > 0) {
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
      const data = Buffer.allocUnsafeSlow(header.width * header.height * 3);
      this.picture = { width: header.width, height: header.height, data, filled: 0 };
      rest = head.subarray(header.headerLength);
    }
    return out;
  }

  /** Bytes held for an incomplete picture (its header, or the pixels received so far). */
  get pendingBytes(): number {
    return this.headBytes + (this.picture?.filled ?? 0);
  }

  reset(): void {
    this.head = [];
    this.headBytes = 0;
    this.picture = undefined;
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
