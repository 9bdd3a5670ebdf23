import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { kernelFileSystemOf, nearestExisting } from '../dirs.js';
import { modelPathProblem } from '../detect/model-file.js';
import { defaultModelsDir, installedPath, modelDescriptor, notInstalledMessage } from '../detect/models.js';
import { checkCameraUrl } from '../camera/url.js';
import type { Config } from './schema.js';

/** A problem found before start, at a key path of the config (the loader turns it into file:line:col). */
export interface PreflightProblem {
  path: (string | number)[];
  message: string;
}

/** What to check: all `run` needs at `start`, or only what a reload applies (`rooms`). */
export type PreflightScope = 'start' | 'rooms';

/**
 * What `roomcount run` would refuse at start, checked without starting anything (`run` and `check-config` both
 * call it through loadConfig): the detector's weights, each camera URL, the outbox folder. Paths are resolved.
 * A reload (scope `rooms`) checks the camera URLs only: the running detector and outbox stay as they are, so a
 * model file deleted since the start must not refuse an edit of the rooms.
 */
export function preflight(
  config: Config,
  modelsDir = defaultModelsDir(),
  scope: PreflightScope = 'start',
): PreflightProblem[] {
  const problems: PreflightProblem[] = [];
  const d = config.detector;
  if (scope === 'start' && d.model !== 'auto') {
    const desc = modelDescriptor(d.model);
    if (d.modelPath !== undefined) {
      const why = modelPathProblem(desc.modelPathKind, d.modelPath);
      if (why) problems.push({ path: ['detector', 'modelPath'], message: why });
    } else if (desc.weights) {
      const file = installedPath(desc, modelsDir)!;
      const why = existsSync(file)
        ? modelPathProblem(desc.modelPathKind, file)
        : notInstalledMessage(desc, modelsDir);
      if (why) problems.push({ path: ['detector', 'model'], message: why });
    } else if (!desc.bundled && d.modelUrl === undefined) {
      problems.push({
        path: ['detector', 'model'],
        message: `${d.model} has no default weights: set detector.modelPath (or detector.modelUrl)`,
      });
    }
  }
  config.rooms.forEach((room, i) => {
    const why = checkCameraUrl(room.camera.url);
    if (why) problems.push({ path: ['rooms', i, 'camera', 'url'], message: why });
  });
  if (scope === 'start' && config.sink === 'calven') {
    const why = stateDirProblem(config.stateDir);
    if (why) problems.push({ path: ['stateDir'], message: why });
  }
  return problems;
}

/** Why the outbox folder cannot be used: not a folder, not writable, or on a kernel file system. */
export function stateDirProblem(dir: string): string | undefined {
  const existing = nearestExisting(dir);
  const kernel = kernelFileSystemOf(dir);
  if (kernel) return `${dir} is under ${kernel}, not a folder on disk: use one such as ./state`;
  if (!statSync(existing).isDirectory()) return `${existing} is not a folder`;
  try {
    accessSync(existing, constants.W_OK);
  } catch {
    return existing === path.resolve(dir)
      ? `${dir} is not writable`
      : `${dir} cannot be created: ${existing} is not writable`;
  }
  return undefined;
}
