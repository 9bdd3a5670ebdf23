import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelFileSystemOf, makeDirectory } from '../src/dirs.js';
import { tempDir } from './helpers/media.js';

/** Runs `code` (ESM, with tsx) in a child with a deadline: an unguarded mkdir under /proc loops forever, and a
 * test cannot interrupt sync code in its own process. */
function inChild(code: string): { stdout: string; timedOut: boolean } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { stdout: child.stdout, timedOut: child.signal !== null };
}

describe('makeDirectory', () => {
  it('creates nested folders on disk', () => {
    const { dir, cleanup } = tempDir();
    try {
      makeDirectory(join(dir, 'a', 'b'));
      expect(existsSync(join(dir, 'a', 'b'))).toBe(true);
      expect(kernelFileSystemOf(join(dir, 'a'))).toBeUndefined();
    } finally {
      cleanup();
    }
  });

  it('refuses /proc, /sys and /dev at once (a recursive mkdir under /proc never returns)', () => {
    expect(kernelFileSystemOf('/proc/1/nope/x')).toBe('/proc');
    expect(kernelFileSystemOf('/sys/nope')).toBe('/sys');
    const child = inChild(
      "const m = await import('./src/dirs.ts'); try { m.makeDirectory('/proc/1/nope/x'); } catch (e) { console.log(e.message); }",
    );
    expect(child.timedOut).toBe(false);
    expect(child.stdout).toContain('/proc/1/nope/x is under /proc, not a folder on disk');
  });

  it('the outbox says which file it cannot open under /proc', () => {
    const child = inChild(
      "const { Outbox } = await import('./src/report/calven/outbox.ts'); try { Outbox.open('/proc/1/nope'); } catch (e) { console.log(e.message); }",
    );
    expect(child.timedOut).toBe(false);
    expect(child.stdout).toMatch(/\/proc\/1\/nope\/outbox\.sqlite.*under \/proc/);
  });
});
