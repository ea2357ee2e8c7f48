/**
 * Private to `scripts/bench-fanout.ts`: one table per point, a row per server, with ratios to the
 * floor measured in the same run, and a note for everything that went wrong or looks off (fell
 * behind, not all connected, lost or duplicated deliveries, streams cut by the server, a
 * saturated load generator, server stderr), so a bad point is reported rather than hidden.
 *
 * @module
 */
import type { LoadgenResult } from "./_fanout-loadgen.ts";
import type { Point } from "./_fanout-points.ts";
import { count, markdownTable, ms, ratio, short } from "./_fanout-stats.ts";

export type RunRecord = {
  point: string;
  server: string;
  label: string;
  /** Why there is no result (the server did not start, the load generator failed). */
  error: string | null;
  result: LoadgenResult | null;
  serverStderr: { lines: number; head: string[]; tail: string[] };
  /** How the server exited, if it did before we stopped it. */
  serverExit: string | null;
  drainMaxMs: number;
};

/** Below this share of the offered deliveries/s a server "fell behind". */
const KEEPING_UP = 0.97;
/** Above this main-thread event-loop utilisation the load generator may be the bottleneck. */
const SATURATED_ELU = 0.9;
/** Above this many cores used by other processes meanwhile, a row's figures are disturbed. */
const BUSY_MACHINE = 0.25;

function notes(run: RunRecord): string[] {
  const r = run.result;
  if (!r) return [run.error ?? "no result"];
  const out: string[] = [];
  if (r.connected < r.connections) out.push(`${count(r.connected)} of ${count(r.connections)} connected`);
  if (r.subscribeMs === null) out.push(`server counted ${r.subscribers ?? "?"} of ${count(r.connected)} subscribed`);
  if (r.achievedPerSec < KEEPING_UP * r.offeredPerSec)
    out.push(`fell behind: ${short(r.achievedPerSec)} of ${short(r.offeredPerSec)}/s`);
  if (r.drain === "deadline")
    out.push(`drain cut ${run.drainMaxMs / 1000} s after the last publish: ${count(r.lost)} still pending`);
  if (r.drain === "idle" && r.lost > 0) out.push("deliveries stopped before all arrived");
  if (r.drain === "no-publish-answer") out.push("publishing never finished (POSTs unanswered)");
  if (r.closedByServer > 0) out.push(`${count(r.closedByServer)} streams closed by the server`);
  if (r.unexpected > 0) out.push(`${count(r.unexpected)} unexpected events`);
  if (r.warmupIncomplete > 0) out.push(`${count(r.warmupIncomplete)} missed the warm-up`);
  const failures = Object.entries(r.publish?.failures ?? {});
  if (failures.length > 0)
    out.push(`publish failed: ${failures.map(([s, n]) => `${n}× ${s === "0" ? "no answer" : s}`).join(", ")}`);
  if (r.publish && r.publish.lagMs.max > 250) out.push(`POST backlog: publish lag up to ${ms(r.publish.lagMs.max)} ms`);
  const errors = Object.entries({ ...r.connectErrors, ...r.badStatus });
  if (errors.length > 0) out.push(`socket errors/status: ${errors.map(([k, n]) => `${k}×${n}`).join(", ")}`);
  if (r.loadgen.mainThreadElu > SATURATED_ELU)
    out.push(`load generator saturated (ELU ${r.loadgen.mainThreadElu.toFixed(2)}): figures are a lower bound`);
  if (r.otherCores > BUSY_MACHINE) out.push(`machine busy: other processes used ${r.otherCores.toFixed(2)} cores`);
  if (!r.serverAlive || run.serverExit !== null) out.push(`server exited (${run.serverExit ?? "?"})`);
  if (run.serverStderr.lines > 0)
    out.push(`server stderr ${run.serverStderr.lines} lines: "${(run.serverStderr.head[0] ?? "").slice(0, 80)}"`);
  return out;
}

const HEADER = [
  "server",
  "connected / subscribed s",
  "offered dlv/s",
  "achieved dlv/s",
  "lost",
  "dup",
  "p50 ms",
  "p99 ms",
  "max ms",
  "KiB/conn",
  "CPU µs/dlv",
  "dlv/s ×floor",
  "CPU ×floor",
  "KiB ×floor",
  "loadgen CPU % (ELU)",
  "other load",
  "notes",
];

/** The table of one point. */
export function pointTable(point: Point, runs: RunRecord[]): string {
  const floor = runs.find((run) => run.server === "floor")?.result ?? null;
  const rows = runs.map((run) => {
    const r = run.result;
    if (!r) return [run.label, ...HEADER.slice(1, -1).map(() => "–"), notes(run).join("; ")];
    const seconds = (value: number | null) => (value === null ? "–" : (value / 1000).toFixed(2));
    return [
      run.label,
      `${seconds(r.connectMs)} / ${seconds(r.subscribeMs)}`,
      short(r.offeredPerSec),
      short(r.achievedPerSec),
      count(r.lost),
      count(r.duplicates),
      r.latencyMs ? ms(r.latencyMs.p50) : "–",
      r.latencyMs ? ms(r.latencyMs.p99) : "–",
      r.latencyMs ? ms(r.latencyMs.max) : "–",
      r.rss.perConnectionKiB === null ? "–" : r.rss.perConnectionKiB.toFixed(1),
      r.cpuUsPerDelivery === null ? "–" : r.cpuUsPerDelivery.toFixed(1),
      ratio(r.achievedPerSec, floor?.achievedPerSec),
      ratio(r.cpuUsPerDelivery, floor?.cpuUsPerDelivery),
      ratio(r.rss.perConnectionKiB, floor?.rss.perConnectionKiB),
      `${r.loadgen.cpuPercent.toFixed(0)} (${r.loadgen.mainThreadElu.toFixed(2)})`,
      r.otherCores.toFixed(2),
      notes(run).join("; "),
    ];
  });
  const head = `### ${point.title} (${count(point.messages)} messages, ${count((point.connections / point.rooms) * point.messages)} deliveries expected)`;
  return `${head}\n\n${markdownTable(HEADER, rows)}`;
}
