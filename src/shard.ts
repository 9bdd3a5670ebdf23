import { createHash } from 'node:crypto';

export interface Shard {
  /** 0-based index of this replica. */
  index: number;
  count: number;
}

/** Parses "I/N" (0 ≤ I < N), e.g. "0/3". */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    throw new Error(`shard must be "I/N" with 0 <= I < N (e.g. "0/3"), got "${text}"`);
  }
  return { index, count };
}

/** Which shard a room belongs to: stable across restarts, machines and Node versions (sha1 of the room id). */
export function shardOf(roomId: string, count: number): number {
  return createHash('sha1').update(roomId).digest().readUInt32BE(0) % count;
}

export function inShard(roomId: string, shard: Shard | undefined): boolean {
  return !shard || shardOf(roomId, shard.count) === shard.index;
}
