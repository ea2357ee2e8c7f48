/**
 * Private to `scripts/bench-fanout.ts`: what a server process tree costs, read from Linux's /proc.
 *
 * A server is measured as its whole process tree (the process we started and every descendant),
 * because a launcher may run the real server in a child (e.g. `tsx file.ts` forks node): CPU is
 * `utime + stime` of each live process plus `cutime + cstime` (children already reaped), RSS is
 * the sum of `VmRSS`. The tree is found by scanning `/proc/<pid>/stat` for parent links.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of the `stat` CPU fields (`getconf CLK_TCK`, 100 on Linux x86). */
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** One process's line of `/proc/<pid>/stat`, split after the `(comm)` field (which may hold spaces). */
function statFields(pid: number): string[] | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, "latin1");
    return line.slice(line.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined; // gone
  }
}

/** `pid` and all its live descendants, `pid` first (empty if `pid` itself is gone). */
function processTree(pid: number): number[] {
  if (!statFields(pid)) return [];
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    const child = Number(name);
    if (!Number.isInteger(child) || child <= 0) continue;
    const fields = statFields(child);
    if (!fields) continue;
    const parent = Number(fields[1]); // field 4 of stat: ppid (fields[0] is field 3, the state)
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(child);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export type TreeSample = {
  /** Processes found (0: the root is gone). */
  processes: number;
  /** CPU time of the tree so far, in microseconds (user + system, with reaped children). */
  cpuUs: number;
  /** Resident set size of the tree, in KiB. */
  rssKiB: number;
};

/** Samples the tree rooted at `pid` (re-discovering descendants each time). */
export function sampleTree(pid: number): TreeSample {
  let cpuTicks = 0;
  let rssKiB = 0;
  const tree = processTree(pid);
  for (const member of tree) {
    const fields = statFields(member);
    if (!fields) continue;
    // stat fields 14-17 (utime stime cutime cstime) are fields[11..14] here.
    cpuTicks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    rssKiB += vmRssKiB(member);
  }
  return { processes: tree.length, cpuUs: (cpuTicks * 1e6) / CLOCK_TICKS, rssKiB };
}

/** `VmRSS` of one process in KiB (0 if gone). */
function vmRssKiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1");
    const match = /VmRSS:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** Whether a process still exists (and is not a zombie). */
export function isAlive(pid: number): boolean {
  const fields = statFields(pid);
  return fields !== undefined && fields[0] !== "Z";
}

/**
 * CPU time the whole machine has spent busy (every core: all of `/proc/stat`'s `cpu` line except
 * idle and iowait), in microseconds. Its difference over a phase, less the server's and the load
 * generator's own, is what other processes took meanwhile: the noise of a shared machine.
 */
export function machineBusyUs(): number {
  const line = readFileSync("/proc/stat", "latin1").split("\n", 1)[0]!;
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
  const busy = ticks.reduce((sum, value) => sum + value, 0) - ticks[3]! - ticks[4]!;
  return (busy * 1e6) / CLOCK_TICKS;
}
