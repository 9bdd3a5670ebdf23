import { existsSync } from 'node:fs';
import path from 'node:path';

/** The team's copies of the ONNX models (developers and CI only; users fetch them with `roomcount models fetch`). */
export const SHARED_MODELS_DIR = '../shared/models';

/** A shared model file resolved against `cwd`, if it exists. */
export function sharedModel(file: string, cwd = process.cwd()): string | undefined {
  const p = path.resolve(cwd, SHARED_MODELS_DIR, file);
  return existsSync(p) ? p : undefined;
}
