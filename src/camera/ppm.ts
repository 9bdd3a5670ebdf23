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
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** Feeds bytes; returns every picture completed by them (usually 0 or 1). Throws on a corrupt stream. */
  push(chunk: Buffer): RawPicture[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: RawPicture[] = [];
    while (this.buffered > 0) {
      const head = this.peek(Math.min(this.buffered, MAX_HEADER));
      const header = parseHeader(head);
      if (header === 'incomplete') {
        if (this.buffered >= MAX_HEADER) throw new Error('corrupt frame stream: no PPM header found');
        return out;
      }
      const size = header.headerLength + header.width * header.height * 3;
      if (this.buffered < size) return out;
      const whole = this.take(size);
      out.push({ width: header.width, height: header.height, data: whole.subarray(header.headerLength) });
    }
    return out;
  }

  /** Bytes held for an incomplete picture. */
  get pendingBytes(): number {
    return this.buffered;
  }

  reset(): void {
    this.chunks = [];
    this.buffered = 0;
  }

  private peek(n: number): Buffer {
    // Merge leading chunks only until the header fits, so tiny chunks cost no quadratic copying.
    while (this.chunks[0]!.length < n) {
      const [a, b, ...rest] = this.chunks as [Buffer, Buffer, ...Buffer[]];
      this.chunks = [Buffer.concat([a, b]), ...rest];
    }
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    // Copy the picture out so the rest of a large chunk is not kept alive by it.
    const picture = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return picture;
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
