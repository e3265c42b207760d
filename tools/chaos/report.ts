import { SCENARIOS } from './expectations.ts';
import type { Invariants } from './invariants.ts';
import type { StyleReport } from './run-style.ts';

const LABELS: Record<keyof Invariants, string> = {
  lost: 'lost',
  wrongStatus: 'wrong status',
  partsWrong: 'participant parts wrong (choreography)',
  effectsTwice: 'effects twice',
  effectsUnwarranted: 'effects the outcome does not justify',
  participantsWrong: 'participant states wrong',
  notificationsWrong: 'notifications wrong',
  unsentOutbox: 'unsent outbox',
  unexplainedDeadLetters: 'unexplained dead letters',
  provokedDeadLetters: 'provoked dead letters wrong',
  httpMismatch: 'GET /sagas/:id mismatches',
};

const seconds = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/**
 * The figures of one style as text: counts, faults with their recovery, and each invariant
 * with its breakdown and examples.
 *
 * @example
 * console.log(formatStyle(report));
 */
export function formatStyle(report: StyleReport): string {
  const lines: string[] = [];
  lines.push(`== ${report.style} (${report.profile} profile, seed ${report.seed}) ${report.ok ? 'PASSED' : 'FAILED'}`);
  lines.push(`   accepted ${report.accepted} of ${report.posted} posted (+ ${report.probes} probes); ${report.retried} retried, ${report.gaveUp} given up`);
  lines.push(`   by expected outcome: ${SCENARIOS.map((s) => `${s} ${report.acceptedByScenario[s]}`).join(', ')}`);
  if (report.observed) {
    lines.push(`   sagas in the database: ${report.observed.sagasInDatabase} (${Object.entries(report.observed.byStatus).map(([s, n]) => `${s} ${n}`).join(', ')}); started for a reservation the client gave up on: ${report.observed.unacknowledgedSagas}`);
  }
  lines.push(`   duration ${seconds(report.durationMs)}, load ${seconds(report.loadMs)}, ${report.sagasPerSecond === null ? '-' : report.sagasPerSecond.toFixed(2)} sagas/s`);
  lines.push('   faults (fault end -> every service ready / a probe saga completed):');
  for (const f of report.faults) {
    lines.push(
      `     ${f.kind.padEnd(8)} ${f.target.padEnd(14)} down ${seconds(f.downMs).padStart(7)}  ready ${seconds(f.readyMs).padStart(7)}  recovered ${seconds(f.recoveryMs).padStart(7)}${f.restartAttempts && f.restartAttempts > 1 ? `  (${f.restartAttempts} starts)` : ''}${f.error ? `  ERROR ${f.error}` : ''}`,
    );
  }
  if (report.unexpectedExits.length) lines.push(`   service processes that died on their own: ${report.unexpectedExits.map((e) => `${e.name} (code ${e.code}, signal ${e.signal})`).join(', ')}`);
  if (report.quiescence) lines.push(`   quiescence: ${report.quiescence.reached ? `after ${seconds(report.quiescence.waitedMs)}` : `NOT reached in ${seconds(report.quiescence.waitedMs)} (${report.quiescence.reason})`}`);
  lines.push(`   database proxy: ${report.proxy.forwarded} connections, ${report.proxy.cutOpen} cut open, ${report.proxy.refused} refused while cut`);
  if (report.invariants) {
    lines.push('   invariants:');
    for (const [name, finding] of Object.entries(report.invariants) as [keyof Invariants, Invariants[keyof Invariants]][]) {
      lines.push(`     ${String(finding.count).padStart(5)}  ${LABELS[name]}`);
      for (const [kind, n] of Object.entries(finding.byKind).sort((a, b) => b[1] - a[1])) lines.push(`              ${String(n).padStart(4)} × ${kind}`);
      for (const example of finding.examples.slice(0, 6)) lines.push(`              e.g. ${example}`);
    }
  }
  if (report.gaveUpExamples.length) lines.push(`   given up, e.g.: ${report.gaveUpExamples.join(' | ')}`);
  if (report.error) lines.push(`   RUN ERROR: ${report.error}`);
  if (report.failures.length) lines.push(`   failures: ${report.failures.join('; ')}`);
  lines.push(`   service logs: ${report.logDir}`);
  return lines.join('\n');
}

/**
 * The one-line verdict over every style, e.g.
 * `chaos: 0 lost, 0 wrong status, 0 effects twice, 0 unexplained dead letters (1000 sagas, both styles)`,
 * followed by any other invariant that failed.
 *
 * @example
 * console.log(summaryLine(reports));
 */
export function summaryLine(reports: StyleReport[]): string {
  const total = (name: keyof Invariants) => reports.reduce((sum, r) => sum + (r.invariants?.[name].count ?? 0), 0);
  const sagas = reports.reduce((sum, r) => sum + r.accepted + r.probes, 0);
  const styles = reports.length === 2 ? 'both styles' : reports.map((r) => r.style).join(', ');
  const others = (['partsWrong', 'effectsUnwarranted', 'participantsWrong', 'notificationsWrong', 'unsentOutbox', 'provokedDeadLetters', 'httpMismatch'] as const).filter((n) => total(n) > 0).map((n) => `${total(n)} ${LABELS[n]}`);
  const problems = reports.flatMap((r) => r.failures.filter((f) => !/^[a-zA-Z]+: \d+$/.test(f)).map((f) => `${r.style}: ${f}`));
  const tail = [...others, ...problems];
  return `chaos: ${total('lost')} lost, ${total('wrongStatus')} wrong status, ${total('effectsTwice')} effects twice, ${total('unexplainedDeadLetters')} unexplained dead letters (${sagas} sagas, ${styles})${tail.length ? `; ${tail.join('; ')}` : ''}`;
}
