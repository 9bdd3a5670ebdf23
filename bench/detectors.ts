/**
 * `npm run bench`: `roomcount bench` (every model × square / native aspect / tiles, ms/frame, rooms per box) with
 * the team's model copies in ../shared/models when present, else the models folder `roomcount models fetch` fills.
 * Extra arguments go to `roomcount bench` (e.g. `npm run bench -- --models rtmdet-nano --iterations 50`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SHARED_MODELS_DIR } from './shared.js';

const shared = path.resolve(SHARED_MODELS_DIR);
const args = process.argv.slice(2);
if (existsSync(shared) && !args.includes('--models-dir')) args.push('--models-dir', shared);
process.argv = [process.argv[0]!, 'roomcount', 'bench', ...args];
await import('../src/cli.js');
