/** Issue 11: configs that are large, alias-heavy or at the edges of what the schema accepts. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/config/load.js';
import { billionLaughs, configProblems } from './helpers/config.js';

const problems = (text: string) => configProblems(text);

describe('YAML aliases', () => {
  it('one anchor merged into 101 rooms is a valid config', () => {
    const rooms = Array.from({ length: 101 }, (_, i) => `  - { <<: *room, id: r${i}, locationId: L${i} }`);
    const text = [
      'sink: stdout',
      'defaults: &room { locationType: space, camera: { url: x.mp4 } }',
      'rooms:',
      ...rooms,
    ].join('\n');
    const cfg = parseConfig(text, 'rooms.yaml', {});
    expect(cfg.rooms).toHaveLength(101);
    expect(cfg.rooms[100]).toMatchObject({ id: 'r100', locationType: 'space', camera: { url: 'x.mp4' } });
  });

  it('a "billion laughs" document is a config error at the line of the alias that explodes', () => {
    const found = problems(`sink: stdout\n${billionLaughs()}\nrooms: []\n`);
    expect(found).toHaveLength(1);
    expect(found[0]!.message).toMatch(/^aliases here expand the document to more than 1000000 values/);
    // a5 expands to 1,111,111 values (each list counts too): the first alias to it (in a6, line 8) explodes.
    expect(found[0]).toMatchObject({ line: 8, col: 10 });
  });

  it('an alias inside itself is refused, not followed forever', () => {
    expect(problems('sink: stdout\nloop: &l [1, *l]\nrooms: []\n')[0]?.message).toMatch(
      /^aliases here expand/,
    );
  });
});

describe('size', () => {
  it('a file over 1 MiB is refused without being read; so is text that long', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'roomcount-')), 'big.yaml');
    writeFileSync(file, `sink: stdout\n${'#'.repeat(2 * 1024 * 1024)}\n`);
    expect(() => loadConfig(file, {})).toThrow(
      `${file}:1:1: the file is 2097166 bytes; a configuration may be at most 1048576 (1 MiB)`,
    );
    expect(problems(`sink: stdout\n${' '.repeat(1024 * 1024)}`)[0]?.message).toMatch(/at most 1048576/);
  });
});

describe('messages at the edges', () => {
  it('a missing enum key is named with its choices (it said "got undefined undefined")', () => {
    expect(problems('sink: stdout\nrooms:\n  - { id: r, locationId: L, camera: { url: x.mp4 } }\n')).toEqual([
      {
        line: 3,
        col: 5,
        path: 'rooms[0]',
        message: 'missing required key "locationType" (one of level, location, place, space, zone)',
      },
    ]);
  });

  it('every duration is bounded by what a Node timer can hold (2^31-1 ms), at file:line:col', () => {
    const limit = 'must be at most 2147483 (about 24 days, the longest a timer can wait)';
    const text = [
      'sink: stdout',
      'defaults: { heartbeatSeconds: 2147484, stationaryMinutes: 35792 }',
      'rooms:',
      '  - id: r',
      '    locationId: L',
      '    locationType: space',
      '    staleSeconds: 1e12',
      '    minStableSeconds: 3000000',
      '    emptyHoldSeconds: 3000000',
      '    minEventIntervalSeconds: 3000000',
      '    sampleFps: 0.000001',
      '    camera: { url: x.mp4, watchdogSeconds: 2147484 }',
    ].join('\n');
    expect(problems(text)).toEqual([
      { line: 2, col: 31, path: 'defaults.heartbeatSeconds', message: limit },
      { line: 2, col: 59, path: 'defaults.stationaryMinutes', message: limit },
      { line: 7, col: 19, path: 'rooms[0].staleSeconds', message: limit },
      { line: 8, col: 23, path: 'rooms[0].minStableSeconds', message: limit },
      { line: 9, col: 23, path: 'rooms[0].emptyHoldSeconds', message: limit },
      { line: 10, col: 30, path: 'rooms[0].minEventIntervalSeconds', message: limit },
      {
        line: 11,
        col: 16,
        path: 'rooms[0].sampleFps',
        message: 'must be at least 0.0000116 (one frame a day)',
      },
      { line: 12, col: 44, path: 'rooms[0].camera.watchdogSeconds', message: limit },
    ]);
    const ok = text.replace(/: (2147484|3000000|1e12)/g, ': 2147483').replace(/35792/, '35791');
    expect(() => parseConfig(ok.replace('0.000001', '0.0000116'), 'rooms.yaml', {})).not.toThrow();
  });

  it('a shard run would refuse (I >= N, N = 0) is refused here too', () => {
    const room = 'rooms:\n  - { id: r, locationId: L, locationType: space, camera: { url: x.mp4 } }\n';
    for (const shard of ['3/3', '0/0']) {
      expect(problems(`sink: stdout\nshard: "${shard}"\n${room}`)).toEqual([
        {
          line: 2,
          col: 8,
          path: 'shard',
          message: 'shard "I/N" needs 0 <= I < N (e.g. "0/3"): run refuses any other',
        },
      ]);
    }
    expect(() => parseConfig(`sink: stdout\nshard: "2/3"\n${room}`, 'rooms.yaml', {})).not.toThrow();
  });
});
