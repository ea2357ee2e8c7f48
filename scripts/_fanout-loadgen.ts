/**
 * Private to `scripts/bench-fanout.ts`: the load generator, one process per (server, point),
 * started by the benchmark as `bench-fanout.ts --loadgen <config JSON>` (its open-file limit
 * raised by the `sh -c 'ulimit -n …'` that starts it). It prints one JSON `LoadgenResult` line on
 * stdout; progress goes to stderr.
 *
 * Phases, each bounded in time:
 * 1. baseline: the server tree's RSS before any connection;
 * 2. connect: C raw-socket subscribers (`_fanout-sse-client.ts`), at most `connectConcurrency`
 *    opening at once, spread over source addresses 127.0.x.y (`perSourceAddress` each);
 *    "connected" = every 200 head arrived; then poll `GET /healthz` until the server counts them
 *    all as `subscribers` ("subscribed");
 * 3. idle: wait `settleMs`, sample RSS again: (idle − baseline) / connected = KiB per connection;
 * 4. warm-up: `warmupPerRoom` messages per room (not measured), until every connection got them;
 * 5. publish: M messages at R/s from the publisher worker (`_fanout-publisher.ts`), then drain
 *    until every expected delivery arrived, or nothing arrived for `drainIdleMs`, or `drainMaxMs`
 *    passed since the last publish answer. Server tree CPU (`_fanout-proc.ts`) and our own CPU
 *    and main-thread event-loop utilisation are taken across this phase only.
 *
 * @module
 */
import { get } from "node:http";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { nowUs, WARMUP_SEQ } from "./_fanout-message.ts";
import { isAlive, machineBusyUs, sampleTree, type TreeSample } from "./_fanout-proc.ts";
import type { PublisherData, PublishJob, PublishReport } from "./_fanout-publisher.ts";
import { SseConnection, type SseShared } from "./_fanout-sse-client.ts";
import { type LatencySummary, latencySummary } from "./_fanout-stats.ts";
import { DeliveryTracker } from "./_fanout-tracker.ts";

export type LoadgenConfig = {
  host: string;
  /** The server's ports: one, or each instance's when several share the load (subscribers in turn). */
  ports: number[];
  /** The server process we started: the root of the measured tree. */
  serverPid: number;
  connections: number;
  rooms: number;
  /** Measured messages, all rooms together (a multiple of `rooms`). */
  messages: number;
  /** Messages per second, all rooms together. */
  rate: number;
  /** Appended to `/rooms/<room>/events` (eddy: `?history=0`, no replay). */
  streamQuery: string;
  connectConcurrency: number;
  connectTimeoutMs: number;
  subscribeTimeoutMs: number;
  settleMs: number;
  warmupPerRoom: number;
  warmupTimeoutMs: number;
  drainIdleMs: number;
  drainMaxMs: number;
  perSourceAddress: number;
  publishPool: number;
};

export type LoadgenResult = {
  connections: number;
  connected: number;
  /** From the first connection attempt to the last 200 head (ms); null if not all connected. */
  connectMs: number | null;
  /** Subscribers the server reported last, and when it first reported all connected ones (ms). */
  subscribers: number | null;
  subscribeMs: number | null;
  connectErrors: Record<string, number>;
  badStatus: Record<string, number>;
  rss: { baselineKiB: number; idleKiB: number; peakKiB: number; perConnectionKiB: number | null };
  warmupIncomplete: number;
  publish: PublishReport | null;
  /** Pairs expected in the publish phase: connections open at its start × their room's messages. */
  expected: number;
  delivered: number;
  lost: number;
  duplicates: number;
  unexpected: number;
  closedByServer: number;
  /** Events of other types (eddy's `presence`) received over the whole run, all connections. */
  otherEvents: number;
  /** C × R / rooms: what the open loop offers. */
  offeredPerSec: number;
  /** Deliveries ÷ max(M / R, last − first delivery + 1 / R): the offered rate when latency holds steady. */
  achievedPerSec: number;
  /** Publish → receipt, ms, over every first arrival. */
  latencyMs: LatencySummary | null;
  bytesPerDelivery: number | null;
  serverCpuUs: number;
  cpuUsPerDelivery: number | null;
  serverAlive: boolean;
  /** How the drain ended. */
  drain: "complete" | "idle" | "deadline" | "no-publish-answer";
  /** Our own cost during the publish phase: CPU % of one core (all threads), main-thread ELU. */
  loadgen: { cpuPercent: number; systemPercent: number; mainThreadElu: number };
  /** Cores' worth of CPU that other processes of the machine used during the publish phase. */
  otherCores: number;
  phaseMs: { publish: number };
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string) => process.stderr.write(`[loadgen] ${text}\n`);

/** `GET /healthz` → `subscribers` (null if unreachable or not a number). */
function healthSubscribers(host: string, port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const request = get({ host, port, path: "/healthz", agent: false, timeout: 2000 }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => {
        try {
          const value = JSON.parse(body).subscribers;
          resolve(typeof value === "number" ? value : null);
        } catch {
          resolve(null);
        }
      });
    });
    request.on("error", () => resolve(null));
    request.on("timeout", () => request.destroy());
  });
}

/** The publisher worker, once ready. Node 20 cannot load a .ts worker by itself: register tsx inside it first. */
async function startPublisher(
  data: PublisherData,
): Promise<{ run(job: Omit<PublishJob, "id">): Promise<PublishReport>; stop(): void }> {
  const url = new URL("./_fanout-publisher.ts", import.meta.url).href;
  const worker = new Worker(
    `import("tsx/esm/api").then((tsx) => { tsx.register(); return import(${JSON.stringify(url)}); });`,
    { eval: true, workerData: data },
  );
  await new Promise((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  worker.on("error", (error) => log(`publisher failed: ${error}`));
  let lastId = 0;
  return {
    run: (job) =>
      new Promise((resolve) => {
        const id = ++lastId;
        const onReport = (report: PublishReport) => {
          if (report.id !== id) return; // the late report of an abandoned job
          worker.off("message", onReport);
          resolve(report);
        };
        worker.on("message", onReport);
        worker.postMessage({ ...job, id });
      }),
    stop: () => void worker.terminate(),
  };
}

/** `GET /healthz` → `subscribers`, summed over every instance (null if one is unreachable). */
async function totalSubscribers(host: string, ports: readonly number[]): Promise<number | null> {
  const counts = await Promise.all(ports.map((port) => healthSubscribers(host, port)));
  return counts.some((count) => count === null) ? null : counts.reduce<number>((sum, count) => sum + count!, 0);
}

/** Runs one measurement against a server already listening on `config.ports`. */
export async function runLoadgen(config: LoadgenConfig): Promise<LoadgenResult> {
  const { host, ports, connections, rooms, messages, rate } = config;
  const tracker = new DeliveryTracker(connections, rooms, messages);
  const shared: SseShared = {
    tracker,
    bodyBytes: 0,
    badStatus: new Map(),
    errors: new Map(),
    closedByServer: 0,
    otherEvents: 0,
  };
  const roomNames = Array.from({ length: rooms }, (_, i) => (rooms === 1 ? "bench" : `r${i}`));
  const publisher = await startPublisher({ role: "publisher", host, ports, pool: config.publishPool });

  // 1. baseline
  const baseline = sampleTree(config.serverPid);

  // 2. connect, then wait for the server to count every subscriber
  const conns: SseConnection[] = [];
  const startUs = nowUs();
  let lastConnectedUs = 0;
  await new Promise<void>((resolve) => {
    let active = 0;
    let settled = 0;
    let stopped = false; // the connect phase is over: open no more
    const timer = setTimeout(() => {
      stopped = true;
      resolve();
    }, config.connectTimeoutMs);
    const launch = () => {
      while (!stopped && active < config.connectConcurrency && conns.length < connections) {
        const index = conns.length;
        const a = Math.floor(index / config.perSourceAddress);
        const localAddress = `127.0.${10 + Math.floor(a / 250)}.${1 + (a % 250)}`;
        const path = `/rooms/${roomNames[index % rooms]}/events${config.streamQuery}`;
        const port = ports[index % ports.length]!;
        const conn = new SseConnection(index, { host, port, path, localAddress }, shared);
        conns.push(conn);
        active++;
        conn.ready.then((ok) => {
          active--;
          settled++;
          if (ok) lastConnectedUs = nowUs();
          if (settled === connections) {
            clearTimeout(timer);
            resolve();
          } else launch();
        });
      }
    };
    launch();
  });
  for (const c of conns) if (!c.open) c.close(); // timed out: the server must not go on accepting them
  const openCount = () => conns.reduce((n, c) => n + (c.open ? 1 : 0), 0);
  const connected = openCount();
  const connectMs = connected === connections ? (lastConnectedUs - startUs) / 1000 : null;
  log(`${connected} of ${connections} connected${connectMs === null ? "" : ` in ${connectMs.toFixed(0)} ms`}`);

  let subscribers: number | null = null;
  let subscribeMs: number | null = null;
  const subscribeDeadline = nowUs() + config.subscribeTimeoutMs * 1000;
  while (nowUs() < subscribeDeadline) {
    subscribers = await totalSubscribers(host, ports);
    if (subscribers !== null && subscribers >= connected) {
      subscribeMs = (nowUs() - startUs) / 1000;
      break;
    }
    await sleep(50);
  }
  log(`server reports ${subscribers} subscribers${subscribeMs === null ? "" : ` at ${subscribeMs.toFixed(0)} ms`}`);

  // 3. idle
  await sleep(config.settleMs);
  const idle = sampleTree(config.serverPid);

  // 4. warm-up
  const warmupCount = rooms * config.warmupPerRoom;
  const warmDeadline = nowUs() + config.warmupTimeoutMs * 1000;
  await Promise.race([
    publisher.run({ firstSeq: WARMUP_SEQ, count: warmupCount, rate: Math.min(500, warmupCount * 4), rooms: roomNames }),
    sleep(config.warmupTimeoutMs),
  ]);
  const warmMissing = () => conns.filter((c) => c.open && tracker.warm[c.index]! < config.warmupPerRoom).length;
  while (warmMissing() > 0 && nowUs() < warmDeadline) await sleep(20);
  const warmupIncomplete = warmMissing();

  // 5. publish and drain
  const counted = new Uint8Array(connections);
  for (const c of conns) if (c.open) counted[c.index] = 1;
  const countedTotal = counted.reduce((n, v) => n + v, 0);
  const expected = countedTotal * tracker.perRoom;
  const cpuStart = sampleTree(config.serverPid);
  const machineStart = machineBusyUs();
  const ownCpuStart = process.cpuUsage();
  const eluStart = performance.eventLoopUtilization();
  const bytesStart = shared.bodyBytes;
  const phaseStartUs = nowUs();
  let report: PublishReport | null = null;
  publisher.run({ firstSeq: 0, count: messages, rate, rooms: roomNames }).then((r) => (report = r));
  let peakKiB = idle.rssKiB;
  let drain: LoadgenResult["drain"] = "complete";
  const hardDeadlineUs = phaseStartUs + ((messages / rate) * 1000 + config.drainMaxMs + 10_000) * 1000;
  let lastProgressUs = nowUs();
  let lastDelivered = 0;
  for (;;) {
    await sleep(100);
    const now = nowUs();
    if (tracker.delivered !== lastDelivered) {
      lastDelivered = tracker.delivered;
      lastProgressUs = now;
    }
    if (Math.round((now - phaseStartUs) / 1e5) % 5 === 0)
      peakKiB = Math.max(peakKiB, sampleTree(config.serverPid).rssKiB);
    const finished: PublishReport | null = report;
    if (finished === null) {
      if (now > hardDeadlineUs) {
        drain = "no-publish-answer";
        break;
      }
      continue;
    }
    if (tracker.delivered >= expected) break;
    if (now - lastProgressUs > config.drainIdleMs * 1000) {
      drain = "idle";
      break;
    }
    if (now - (finished as PublishReport).endUs > config.drainMaxMs * 1000) {
      drain = "deadline";
      break;
    }
  }
  const phaseEndUs = nowUs();
  const cpuEnd: TreeSample = sampleTree(config.serverPid);
  const ownCpu = process.cpuUsage(ownCpuStart);
  const machineUs = machineBusyUs() - machineStart;
  const elu = performance.eventLoopUtilization(eluStart);
  peakKiB = Math.max(peakKiB, cpuEnd.rssKiB);
  const serverAlive = isAlive(config.serverPid);

  const delivered = tracker.delivered;
  const publish = report as PublishReport | null;
  const spanSec = Math.max(messages / rate, (tracker.lastDeliveryUs - tracker.firstDeliveryUs) / 1e6 + 1 / rate);
  const serverCpuUs = cpuEnd.cpuUs - cpuStart.cpuUs;
  const latency = latencySummary(tracker.latencies, delivered);
  const toMs = (v: number) => v / 1000;
  const result: LoadgenResult = {
    connections,
    connected,
    connectMs,
    subscribers,
    subscribeMs,
    connectErrors: Object.fromEntries(shared.errors),
    badStatus: Object.fromEntries(shared.badStatus),
    rss: {
      baselineKiB: baseline.rssKiB,
      idleKiB: idle.rssKiB,
      peakKiB,
      perConnectionKiB: connected > 0 ? (idle.rssKiB - baseline.rssKiB) / connected : null,
    },
    warmupIncomplete,
    publish,
    expected,
    delivered,
    lost: tracker.missing((conn) => counted[conn] === 1),
    duplicates: tracker.duplicates,
    unexpected: tracker.unexpected,
    closedByServer: shared.closedByServer,
    otherEvents: shared.otherEvents,
    offeredPerSec: (connections / rooms) * rate,
    achievedPerSec: delivered / spanSec,
    latencyMs: latency && {
      p50: toMs(latency.p50),
      p90: toMs(latency.p90),
      p99: toMs(latency.p99),
      max: toMs(latency.max),
    },
    bytesPerDelivery: delivered > 0 ? (shared.bodyBytes - bytesStart) / delivered : null,
    serverCpuUs,
    cpuUsPerDelivery: delivered > 0 ? serverCpuUs / delivered : null,
    serverAlive,
    drain,
    loadgen: {
      cpuPercent: ((ownCpu.user + ownCpu.system) / (phaseEndUs - phaseStartUs)) * 100,
      systemPercent: (ownCpu.system / (phaseEndUs - phaseStartUs)) * 100,
      mainThreadElu: elu.utilization,
    },
    otherCores: Math.max(0, (machineUs - serverCpuUs - (ownCpu.user + ownCpu.system)) / (phaseEndUs - phaseStartUs)),
    phaseMs: { publish: (phaseEndUs - phaseStartUs) / 1000 },
  };
  for (const c of conns) c.close();
  publisher.stop();
  return result;
}
