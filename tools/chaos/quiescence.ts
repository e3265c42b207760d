import type { Connection, RowDataPacket } from 'mysql2/promise';

export interface Quiescence {
  reached: boolean;
  waitedMs: number;
  /** Why it was not reached (what still moved or was pending), when it was not. */
  reason: string | null;
}

/**
 * Waits until the system has nothing left to do: no unsent outbox row, no deadline due in
 * the next `horizonMs`, and nothing written (saga log, outbox, processed ids, notices, dead
 * letters, instances' statuses) for `stableMs`; at most `timeoutMs`.
 *
 * @example
 * const q = await waitForQuiescence(db, { timeoutMs: 240_000 });
 */
export async function waitForQuiescence(db: Connection, options: { timeoutMs: number; stableMs?: number; horizonMs?: number }): Promise<Quiescence> {
  const stableMs = options.stableMs ?? 8000;
  const horizonMs = options.horizonMs ?? 30_000;
  const started = Date.now();
  let last = '';
  let since = Date.now();
  let reason = 'not checked';
  for (;;) {
    const [[row]] = await db.query<RowDataPacket[]>(
      `SELECT (SELECT COUNT(*) FROM saga_log) AS log_rows, (SELECT COUNT(*) FROM outbox) AS outbox_rows,
              (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL) AS unsent, (SELECT COUNT(*) FROM processed_messages) AS processed,
              (SELECT COUNT(*) FROM notificaciones) AS notices, (SELECT COUNT(*) FROM dead_letters) AS dead,
              (SELECT COUNT(*) FROM saga_instances WHERE status = 'running') AS running, (SELECT MIN(due_at) FROM deadlines) AS next_due`,
    );
    const fingerprint = JSON.stringify({ ...row, next_due: undefined });
    const now = Date.now();
    if (fingerprint !== last) {
      last = fingerprint;
      since = now;
    }
    const nextDue = row.next_due === null ? null : Number(row.next_due);
    const unsent = Number(row.unsent);
    if (unsent > 0) reason = `${unsent} outbox rows unsent`;
    else if (nextDue !== null && nextDue < now + horizonMs) reason = `a deadline due ${nextDue < now ? `${now - nextDue} ms ago` : `in ${nextDue - now} ms`}`;
    else if (now - since < stableMs) reason = `still changing (${row.running} instances running)`;
    else return { reached: true, waitedMs: now - started, reason: null };
    if (now - started > options.timeoutMs) return { reached: false, waitedMs: now - started, reason };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
