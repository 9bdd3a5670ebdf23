import { describe, expect, it } from 'vitest';
import { PpmStreamParser } from '../src/camera/ppm.js';

function ppm(width: number, height: number, fill: number): Buffer {
  const header = Buffer.from(`P6\n${width} ${height}\n255\n`, 'ascii');
  return Buffer.concat([header, Buffer.alloc(width * height * 3, fill)]);
}

describe('PpmStreamParser', () => {
  it('splits a stream of pictures at any chunk boundary', () => {
    const stream = Buffer.concat([ppm(4, 2, 1), ppm(3, 3, 2), ppm(4, 2, 3)]);
    for (const chunkSize of [1, 5, 7, 13, 64, stream.length]) {
      const parser = new PpmStreamParser();
      const got = [];
      for (let i = 0; i < stream.length; i += chunkSize)
        got.push(...parser.push(stream.subarray(i, i + chunkSize)));
      expect(got.map((p) => [p.width, p.height, p.data.length, p.data[0]])).toEqual([
        [4, 2, 24, 1],
        [3, 3, 27, 2],
        [4, 2, 24, 3],
      ]);
      expect(parser.pendingBytes).toBe(0);
    }
  });

  it('passes over the pictures `accept` refuses: their size comes out, no pixels', () => {
    const stream = Buffer.concat([ppm(4, 2, 1), ppm(3, 3, 2), ppm(4, 2, 3), ppm(2, 2, 4)]);
    for (const chunkSize of [1, 7, 64, stream.length]) {
      const parser = new PpmStreamParser();
      let asked = 0;
      const accept = () => asked++ % 2 === 0;
      const got = [];
      for (let i = 0; i < stream.length; i += chunkSize)
        got.push(...parser.push(stream.subarray(i, i + chunkSize), accept));
      expect(asked).toBe(4);
      expect(got.map((p) => ('skipped' in p ? `skipped ${p.width}x${p.height}` : p.data[0]))).toEqual([
        1,
        'skipped 3x3',
        3,
        'skipped 2x2',
      ]);
      expect(parser.pendingBytes).toBe(0);
    }
  });

  it('follows a change of resolution mid-stream', () => {
    const parser = new PpmStreamParser();
    const got = parser.push(Buffer.concat([ppm(8, 8, 0), ppm(2, 1, 9)]));
    expect(got.map((p) => `${p.width}x${p.height}`)).toEqual(['8x8', '2x1']);
  });

  it('keeps an incomplete picture until the rest arrives', () => {
    const parser = new PpmStreamParser();
    const whole = ppm(2, 2, 5);
    expect(parser.push(whole.subarray(0, 10))).toEqual([]);
    expect(parser.pendingBytes).toBe(10);
    expect(parser.push(whole.subarray(10))).toHaveLength(1);
  });

  it('rejects bytes that are not a PPM stream', () => {
    expect(() => new PpmStreamParser().push(Buffer.from('GIF89a....'))).toThrow(/expected a PPM/);
    expect(() => new PpmStreamParser().push(Buffer.from('P6\n10 x10\n255\n'))).toThrow(/bad PPM header/);
    expect(() => new PpmStreamParser().push(Buffer.from('P6\n10 10\n65535\n'))).toThrow(/maxval/);
  });
});
