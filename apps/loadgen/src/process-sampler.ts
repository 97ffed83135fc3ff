import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

/** RSS and CPU time of a set of processes at one moment. */
export interface CostSample {
  /** Wall-clock ms. */
  at: number;
  /** Summed resident set size, KB. */
  rssKb: number;
  /** Summed user + system CPU time, ms. */
  cpuMs: number;
  /** Of that, the user-space part, ms (the rest is the kernel's work for the processes). */
  userCpuMs: number;
  /** Subscribers connected at that moment (filled in by the caller). */
  subscribers: number;
}

/** Reads RSS (KB) and CPU time (ms) of one process from /proc; undefined if it is gone. */
export function readProcess(
  pid: number,
): { rssKb: number; cpuMs: number; userCpuMs: number } | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'latin1').split(' ');
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Fields after the parenthesised command name (which may contain spaces).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return {
      rssKb: (Number(statm[1]) * PAGE_BYTES) / 1024,
      cpuMs: ((utime + stime) * 1000) / TICKS_PER_SECOND,
      userCpuMs: (utime * 1000) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** Parent of every process, from /proc/<pid>/stat. */
function parents(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** The given PIDs and all their descendants (a cluster primary's workers, nginx's workers). */
export function withDescendants(
  pids: readonly number[],
  children: Map<number, number[]> = parents(),
): number[] {
  const out = [...pids];
  for (let i = 0; i < out.length && out.length < 4096; i++)
    out.push(...(children.get(out[i]!) ?? []));
  return [...new Set(out)];
}

/**
 * Samples the server processes under test (RSS and CPU time) on an interval,
 * together with the number of connected subscribers the caller reports, so
 * that RSS can be plotted against subscribers and a cost per subscriber given.
 */
export class ProcessSampler {
  readonly samples: CostSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pids: readonly number[],
    private readonly subscribers: () => number,
  ) {}

  /** One sample now (also recorded), over the given processes and their descendants. */
  sample(): CostSample {
    let rssKb = 0;
    let cpuMs = 0;
    let userCpuMs = 0;
    for (const pid of withDescendants(this.pids)) {
      const p = readProcess(pid);
      if (p) {
        rssKb += p.rssKb;
        cpuMs += p.cpuMs;
        userCpuMs += p.userCpuMs;
      }
    }
    const s = { at: Date.now(), rssKb, cpuMs, userCpuMs, subscribers: this.subscribers() };
    this.samples.push(s);
    return s;
  }

  /** CPU time (ms) of each given PID with its descendants, in the order given; 0 for one that is gone. */
  cpuByPid(): number[] {
    const children = parents();
    return this.pids.map((pid) =>
      withDescendants([pid], children).reduce((sum, p) => sum + (readProcess(p)?.cpuMs ?? 0), 0),
    );
  }

  /** Samples every `intervalMs` until {@link ProcessSampler.stop}. */
  start(intervalMs = 250): void {
    if (this.pids.length === 0) return;
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer);
  }
}
