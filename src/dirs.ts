import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** Kernel file systems: a folder there is never one of ours (and Node's recursive mkdir under /proc never returns). */
const KERNEL_FS = ['/proc', '/sys', '/dev'];

/** `dir` (absolute) if it exists, else its nearest ancestor that does. */
export function nearestExisting(dir: string): string {
  let existing = path.resolve(dir);
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  return existing;
}

/** The kernel file system (`/proc`, `/sys`, `/dev`) that `dir`, or the nearest part of it that exists, is on. */
export function kernelFileSystemOf(dir: string): string | undefined {
  const existing = nearestExisting(dir);
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // unreadable: judge the path as written
  }
  return KERNEL_FS.find((k) => real === k || real.startsWith(`${k}/`));
}

/**
 * `mkdir -p` that refuses kernel file systems at once (`mkdirSync(…, {recursive: true})` loops forever under
 * /proc, ignoring signals). Every folder roomcount creates (stateDir, the models folder, --annotate) goes through it.
 */
export function makeDirectory(dir: string): void {
  const kernel = kernelFileSystemOf(dir);
  if (kernel) throw new Error(`${dir} is under ${kernel}, not a folder on disk`);
  mkdirSync(dir, { recursive: true });
}
