import type { Config } from '../config/schema.js';
import { listDeadLetters, outboxStats, retryDeadLetters } from '../report/calven/outbox.js';

/** `roomcount outbox`: pending and dead-letter counts; lists or re-queues dead letters. */
export function outboxCommand(
  config: Config,
  opts: { retryDead: boolean; list: boolean; room?: string },
  out: NodeJS.WritableStream = process.stdout,
): void {
  const lines: string[] = [];
  if (opts.retryDead) {
    const moved = retryDeadLetters(config.stateDir, { roomId: opts.room });
    lines.push(
      `${moved} dead-lettered event(s) moved back to pending; a running service sends them within 30 s`,
    );
  }
  const stats = outboxStats(config.stateDir);
  lines.push(
    `outbox ${config.stateDir}: ${stats.pending} pending` +
      (stats.oldestPendingAt ? ` (oldest ${stats.oldestPendingAt})` : '') +
      `, ${stats.deadLetter} dead-lettered`,
  );
  if (opts.list) {
    for (const d of listDeadLetters(config.stateDir, { roomId: opts.room, limit: 100 })) {
      const why = [
        d.httpStatus && `HTTP ${d.httpStatus}`,
        d.resultCode && `resultCode ${d.resultCode}`,
        d.message,
      ]
        .filter(Boolean)
        .join(' ');
      lines.push(`  ${d.deadAt}  ${d.roomId}  ${d.eventId}  ${d.reason}: ${why}`);
    }
  }
  out.write(lines.join('\n') + '\n');
}
