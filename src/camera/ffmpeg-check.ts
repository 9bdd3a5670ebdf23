import { execFile } from 'node:child_process';
import { ffmpegCommand } from './ffmpeg.js';

/** How long `ffmpeg -version` may take (it answers in ~0.1 s; a loaded box must not make a good ffmpeg fail). */
const CHECK_TIMEOUT_MS = 5000;
const INSTALL = 'sudo apt-get install ffmpeg';

export interface FfmpegProblem {
  /** What is wrong, e.g. `ffmpeg not found on PATH`. */
  problem: string;
  /** What to do about it. */
  fix: string;
}

/** The one line a user sees: what is wrong, then what to do. */
export function ffmpegProblemLine(p: FfmpegProblem): string {
  return `${p.problem}: ${p.fix}`;
}

/**
 * Runs `<ffmpeg> -version` once and resolves to undefined when ffmpeg answers, else to what is wrong and what to
 * do. `roomcount run` calls it before starting rooms: without it a missing ffmpeg shows up only as every room
 * retrying `spawn ffmpeg ENOENT` forever.
 */
export function checkFfmpeg(
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = CHECK_TIMEOUT_MS,
): Promise<FfmpegProblem | undefined> {
  const command = ffmpegCommand(undefined, env);
  const fromEnv = Boolean(env.FFMPEG_PATH);
  const what = fromEnv ? `FFMPEG_PATH=${command}` : 'ffmpeg';
  const fix = fromEnv
    ? 'set FFMPEG_PATH to the ffmpeg program, or unset it to use ffmpeg from PATH'
    : `install it (${INSTALL}) or set FFMPEG_PATH to the ffmpeg program`;
  const run = `\`${command} -version\``;
  return new Promise((resolve) => {
    const fail = (problem: string) => resolve({ problem, fix });
    execFile(
      command,
      ['-version'],
      { env, timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (!err) {
          if (/ffmpeg version/.test(stdout)) resolve(undefined);
          else fail(`${what} is not ffmpeg (${run} printed no "ffmpeg version")`);
          return;
        }
        const code = (err as NodeJS.ErrnoException).code as string | number | undefined;
        if (code === 'ENOENT') fail(`${what} not found${fromEnv ? '' : ' on PATH'}`);
        else if (code === 'EACCES') fail(`${what} cannot be run (permission denied: not an executable file)`);
        else if (typeof code === 'string') fail(`${what} cannot be run (${code})`);
        else if (err.killed) fail(`${what} does not work (${run} gave no answer in ${timeoutMs / 1000} s)`);
        else {
          const how =
            typeof code === 'number' ? `exited with code ${code}` : `was killed by ${err.signal ?? '?'}`;
          const said = firstLine(stderr);
          fail(`${what} does not work (${run} ${how}${said ? `: ${said}` : ''})`);
        }
      },
    );
  });
}

function firstLine(text: string): string {
  return (text.trim().split('\n')[0] ?? '').trim().slice(0, 200);
}
