import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON logs on stderr (stdout belongs to the stdout sink). Level from LOG_LEVEL (default info).
 * Keys that may hold secrets are censored by pino itself as a second line of defence; camera URLs are
 * redacted where they are logged (see redact.ts).
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
      base: undefined,
      redact: {
        paths: [
          'apiKey',
          'apiSecret',
          'clientSecret',
          'token',
          'password',
          '*.apiSecret',
          '*.clientSecret',
          '*.token',
        ],
        censor: '***',
      },
    },
    opts.destination ?? pino.destination(2),
  );
}
