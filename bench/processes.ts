/**
 * What the benchmarks read of the processes they measure, from /proc: CPU seconds, RSS
 * (and its breakdown), the whole machine's busy time, and which pids are the services,
 * the broker and MariaDB. The numbers `ps -o rss=,times=` shows.
 *
 * @example
 * const monitor = new ProcessMonitor([{ name: 'coordinator', pid }]);
 * monitor.start(); await run(); const [coordinator] = monitor.stop(); // cpuSeconds, peakRssMb
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/status in kB (VmRSS, VmHWM, RssAnon, RssFile, RssShmem) and Threads. */
export function procStatus(pid: number): Record<string, number> | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const out: Record<string, number> = {};
    for (const field of ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'RssShmem', 'Threads']) {
      const match = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(text);
      if (match) out[field] = Number(match[1]);
    }
    return out;
  } catch {
    return null;
  }
}

export const rssMb = (pid: number): number | null => {
  const kb = procStatus(pid)?.VmRSS;
  return kb === undefined ? null : kb / 1024;
};

/** User + system CPU seconds used so far. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return null;
  }
}

/**
 * Resident memory of a process by mapping (/proc/<pid>/smaps), in MB: the node binary,
 * libpulsar and its addon, other shared libraries, the malloc heap ([heap]), anonymous
 * mappings (V8's heap, thread arenas and stacks) and the rest.
 */
export function smapsBreakdown(pid: number): Record<string, number> | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const node = fs.realpathSync(process.execPath);
  const out: Record<string, number> = {};
  let category = 'other';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+\s+\S+\s+\S+\s+\S+\s+\d+\s*(.*)$/.exec(line);
    if (header) {
      const name = header[1].trim();
      category =
        name === '' ? 'anonymous (V8 heap, malloc arenas, stacks)'
        : name === '[heap]' ? '[heap] (malloc)'
        : name === node ? 'node binary'
        : /libpulsar/.test(name) ? 'libpulsar'
        : /pulsar-client|Pulsar\.node/.test(name) ? 'pulsar-client addon'
        : /\.so(\.|$)/.test(name) || /\.node$/.test(name) ? 'other shared libraries'
        : name.startsWith('[') ? name
        : 'other files';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[category] = (out[category] ?? 0) + Number(rss[1]) / 1024;
  }
  return out;
}

/** Proportional set size (shared pages divided among the processes sharing them), MB, from /proc/<pid>/smaps_rollup. */
export function pss(pid: number): { pss: number; pssAnon: number; pssFile: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) / 1024;
    return { pss: field('Pss'), pssAnon: field('Pss_Anon'), pssFile: field('Pss_File') };
  } catch {
    return null;
  }
}

/** Busy and total CPU seconds of the whole machine so far, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } | null {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: (total - fields[3] - fields[4]) / CLK_TCK, total: total / CLK_TCK };
  } catch {
    return null;
  }
}

/** The pid of the broker `npm run pulsar -- start` runs (its broker.pid under PULSAR_STATE_DIR or .pulsar). */
export function brokerPid(): number | null {
  const file = path.join(process.env.PULSAR_STATE_DIR ?? path.join(ROOT, '.pulsar'), 'broker.pid');
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && fs.existsSync(`/proc/${pid}`) ? pid : null;
  } catch {
    return null;
  }
}

/** The local MariaDB/MySQL server's pid, when `mysqlUrl` names this host. */
export function mariadbPid(mysqlUrl: string): number | null {
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(new URL(mysqlUrl).hostname)) return null;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm === 'mariadbd' || comm === 'mysqld') return Number(entry);
    } catch {
      // gone
    }
  }
  return null;
}

/** This process's children running a service (tsx or a compiled bundle), by service name. */
export function servicePids(): { name: string; pid: number }[] {
  try {
    const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    return out
      .split('\n')
      .map((line) => /^\s*(\d+)\s+.*service-main\.(?:ts|mjs)\s+(\S+)/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ name: m[2], pid: Number(m[1]) }));
  } catch {
    return []; // ps exits 1 when there is no child
  }
}

export interface ProcessReport {
  name: string;
  pid: number;
  rssMb: number | null;
  peakRssMb: number | null;
  cpuSeconds: number | null;
  cpuPctOfOneCore: number | null;
}

/** Samples RSS every 250 ms and reads CPU time at start and stop. */
export class ProcessMonitor {
  private readonly peakKb = new Map<number, number>();
  private readonly cpuStart = new Map<number, number | null>();
  private timer: NodeJS.Timeout | null = null;
  private machineStart: ReturnType<typeof machineCpu> = null;
  startedAt = 0;
  machineBusyPct: number | null = null;

  constructor(readonly watched: { name: string; pid: number }[]) {}

  start(): void {
    this.startedAt = Date.now();
    this.machineStart = machineCpu();
    for (const w of this.watched) this.cpuStart.set(w.pid, cpuSeconds(w.pid));
    this.sample();
    this.timer = setInterval(() => this.sample(), 250);
  }

  stop(): ProcessReport[] {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    const seconds = (Date.now() - this.startedAt) / 1000;
    const machineEnd = machineCpu();
    if (this.machineStart && machineEnd) this.machineBusyPct = (100 * (machineEnd.busy - this.machineStart.busy)) / seconds;
    return this.watched.map((w) => {
      const before = this.cpuStart.get(w.pid) ?? null;
      const after = cpuSeconds(w.pid);
      const cpu = before !== null && after !== null ? after - before : null;
      return {
        name: w.name,
        pid: w.pid,
        rssMb: rssMb(w.pid),
        peakRssMb: this.peakKb.has(w.pid) ? this.peakKb.get(w.pid)! / 1024 : null,
        cpuSeconds: cpu,
        cpuPctOfOneCore: cpu === null ? null : (100 * cpu) / seconds,
      };
    });
  }

  private sample(): void {
    for (const w of this.watched) {
      const kb = procStatus(w.pid)?.VmRSS;
      if (kb !== undefined) this.peakKb.set(w.pid, Math.max(kb, this.peakKb.get(w.pid) ?? 0));
    }
  }
}
