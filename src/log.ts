import { pino, type Logger } from 'pino';

export type { Logger };

/** Field names whose values are never logged, wherever they appear (second line of defence). */
const SECRET_KEYS = [
  'apiKey',
  'apiSecret',
  'clientSecret',
  'client_secret',
  'token',
  'password',
  'authorization',
];

/**
 * Logs go to stderr (stdout belongs to the stdout sink): JSON lines, or human-readable lines when stderr is a
 * terminal (LOG_FORMAT=json|pretty overrides). Level from LOG_LEVEL (default info). Camera URLs are redacted
 * where they are logged (see redact.ts); keys that may hold secrets are censored here too.
 */
export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const options = {
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    base: undefined,
    redact: { paths: SECRET_KEYS.flatMap((k) => [k, `*.${k}`]), censor: '***' },
  };
  if (opts.destination) return pino(options, opts.destination);
  const format = process.env.LOG_FORMAT ?? (process.stderr.isTTY ? 'pretty' : 'json');
  if (format === 'pretty') {
    return pino({
      ...options,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname', singleLine: true },
      },
    });
  }
  return pino(options, pino.destination(2));
}
