import { describe, expect, it } from 'vitest';
import { inShard, parseShard, shardOf } from '../src/shard.js';

describe('shards', () => {
  it('parses I/N and rejects nonsense', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    expect(parseShard(' 0 / 1 ')).toEqual({ index: 0, count: 1 });
    for (const bad of ['3/3', '1/0', 'a/b', '1', '-1/2']) expect(() => parseShard(bad)).toThrow(/I\/N/);
  });

  it('puts every room in exactly one shard, stably, and spreads them evenly', () => {
    const ids = Array.from({ length: 600 }, (_, i) => `room-${i}`);
    const sizes = [0, 0, 0];
    for (const id of ids) {
      const owners = [0, 1, 2].filter((index) => inShard(id, { index, count: 3 }));
      expect(owners).toEqual([shardOf(id, 3)]);
      sizes[owners[0]!]!++;
    }
    for (const n of sizes) expect(n).toBeGreaterThan(150);
    // Stable across processes and versions: sha1 of the id (first 4 bytes, big-endian) modulo N.
    expect(shardOf('boardroom', 7)).toBe(4);
    expect(shardOf('room-1', 7)).toBe(1);
    expect(inShard('anything', undefined)).toBe(true);
  });
});
