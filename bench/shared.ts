import { existsSync } from 'node:fs';
import path from 'node:path';
import { modelDescriptor } from '../src/detect/models.js';

/** The team's copies of the ONNX models (developers and CI only; users fetch them with `roomcount models fetch`). */
export const SHARED_MODELS_DIR = '../shared/models';

/** A shared model file resolved against `cwd`, if it exists. */
export function sharedModel(file: string, cwd = process.cwd()): string | undefined {
  const p = path.resolve(cwd, SHARED_MODELS_DIR, file);
  return existsSync(p) ? p : undefined;
}

/** A model's weights among the shared copies (the file name its descriptor pins), or why they are not there. */
export function sharedWeights(model: string, cwd = process.cwd()): { path: string } | { missing: string } {
  const file = modelDescriptor(model).weights!.file;
  const found = sharedModel(file, cwd);
  return found
    ? { path: found }
    : {
        missing: `${path.join(cwd, SHARED_MODELS_DIR, file)} not found (the shared folder ../shared is missing)`,
      };
}
