/**
 * Fan-out benchmark (`npm run bench:fanout`): how many SSE deliveries per second a server makes,
 * at what latency, memory per connection and CPU per delivery, for eddy's chat server on Node,
 * Bun and Deno and for peers speaking the same protocol (`scripts/fanout-peers/`): a plain
 * `node:http` floor, better-sse 0.16, Hono `streamSSE` on Node, Bun and Deno.
 *
 * For each point (`_fanout-points.ts`) and server (`_fanout-servers.ts`): start the server fresh
 * on a loopback port, run the load generator in a process of its own (`_fanout-loadgen.ts`: raw
 * sockets, an exact ledger of every (connection, message) pair, /proc figures of the server's
 * process tree), stop the server. Then one table per point with ratios to the floor of the same
 * run (`_fanout-report.ts`), and every figure in `test-output/bench-fanout.json`.
 *
 *   npx tsx scripts/bench-fanout.ts [--points 1k-40,10k-5,burst,rooms] [--servers floor,eddy-node,...]
 *                                   [--quick] [--json test-output/bench-fanout.json]
 *
 * `--loadgen <config JSON>` is the load generator's own entry (the benchmark starts it so).
 *
 * @module
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { LoadgenConfig, LoadgenResult } from "./_fanout-loadgen.ts";
import { bounds, POINT_NAMES, type Point, points } from "./_fanout-points.ts";
import { pointTable, type RunRecord } from "./_fanout-report.ts";
import { fileLimit, ROOT, SERVERS, spawnWithLimit, startServer } from "./_fanout-servers.ts";

const { values: flags } = parseArgs({
  options: {
    points: { type: "string", default: POINT_NAMES.join(",") },
    servers: { type: "string", default: SERVERS.map((server) => server.name).join(",") },
    quick: { type: "boolean", default: false },
    json: { type: "string", default: "test-output/bench-fanout.json" },
    "eddy-root": { type: "string", default: "." },
    loadgen: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (flags.loadgen !== undefined) {
  const { runLoadgen } = await import("./_fanout-loadgen.ts");
  const result = await runLoadgen(JSON.parse(flags.loadgen) as LoadgenConfig);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

if (flags.help) {
  console.log(`Usage: npx tsx scripts/bench-fanout.ts [--points LIST] [--servers LIST] [--quick] [--json FILE]
  --points   ${POINT_NAMES.join(",")} (default: all)
  --servers  ${SERVERS.map((server) => server.name).join(",")} (default: all)
  --quick    small counts: a smoke run of about a minute
  --json     where to write every figure (default test-output/bench-fanout.json)
  --eddy-root DIR  run eddy's cli/ from another checkout (e.g. a \`git archive\` of a commit), default: this one`);
  process.exit(0);
}

const pick = <T extends { name: string }>(all: T[], list: string, what: string): T[] =>
  list.split(",").map((name) => {
    const found = all.find((item) => item.name === name.trim());
    if (!found) {
      console.error(`unknown ${what} "${name}"; known: ${all.map((item) => item.name).join(", ")}`);
      process.exit(2);
    }
    return found;
  });
const selectedPoints = pick(points(flags.quick), flags.points, "point");
const selectedServers = pick(SERVERS, flags.servers, "server");
const limits = bounds(flags.quick);
const eddyRoot = resolve(ROOT, flags["eddy-root"]);
const limit = fileLimit();
const needed = Math.max(...selectedPoints.map((point) => point.connections)) + 256;
console.error(`open-file limit ${limit} (hard limit allowing), ${needed} needed per process`);
if (limit < needed)
  console.error(`warning: the open-file limit ${limit} is below the ${needed} the largest point needs`);

/** Runs the load generator in its own process (open-file limit raised) and parses its result line. */
function runLoadgenProcess(config: LoadgenConfig, timeoutMs: number): Promise<LoadgenResult> {
  const child = spawnWithLimit(
    [process.execPath, "--import", "tsx", "scripts/bench-fanout.ts", "--loadgen", JSON.stringify(config)],
    limit,
    "pipe",
  );
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
    process.stderr.write(text);
  });
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {}
  }, timeoutMs);
  return new Promise((resolvePromise, reject) => {
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const line = stdout.trim().split("\n").pop() ?? "";
      try {
        resolvePromise(JSON.parse(line) as LoadgenResult);
      } catch {
        reject(
          new Error(`load generator exited ${signal ?? code}: ${stderr.trim().split("\n").slice(-2).join(" / ")}`),
        );
      }
    });
  });
}

async function runOne(point: Point, spec: (typeof SERVERS)[number]): Promise<RunRecord> {
  const record: RunRecord = {
    point: point.name,
    server: spec.name,
    label: spec.label,
    error: null,
    result: null,
    serverStderr: { lines: 0, head: [], tail: [] },
    serverExit: null,
    drainMaxMs: limits.drainMaxMs,
  };
  console.error(`\n== ${point.name} · ${spec.name}`);
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(spec, limit, eddyRoot);
  } catch (error) {
    record.error = error instanceof Error ? error.message : String(error);
    return record;
  }
  const config: LoadgenConfig = {
    host: "127.0.0.1",
    ports: server.ports,
    serverPid: server.pid,
    connections: point.connections,
    rooms: point.rooms,
    messages: point.messages,
    rate: point.rate,
    streamQuery: spec.streamQuery,
    connectConcurrency: 256,
    warmupPerRoom: 2,
    perSourceAddress: 500,
    publishPool: 32,
    ...limits,
  };
  const budget =
    limits.connectTimeoutMs +
    limits.subscribeTimeoutMs +
    (point.messages / point.rate) * 1000 +
    limits.drainMaxMs +
    30_000;
  try {
    record.result = await runLoadgenProcess(config, budget);
  } catch (error) {
    record.error = error instanceof Error ? error.message : String(error);
  }
  record.serverExit = server.exit;
  await server.stop();
  record.serverStderr = server.stderr;
  return record;
}

const started = Date.now();
const runs: RunRecord[] = [];
for (const point of selectedPoints) for (const spec of selectedServers) runs.push(await runOne(point, spec));

const seconds = ((Date.now() - started) / 1000).toFixed(0);
const machine = `${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}`;
const version = (name: string) => {
  try {
    return JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")).version as string;
  } catch {
    return "?";
  }
};
const versions = ["bun", "deno", "better-sse", "hono", "@hono/node-server"].map((name) => `${name} ${version(name)}`);
const eddyFrom = relative(ROOT, eddyRoot) || ".";
const tables = selectedPoints.map((point) =>
  pointTable(
    point,
    runs.filter((run) => run.point === point.name),
  ),
);
console.log(
  `\n## Fan-out (${flags.quick ? "quick" : "full"}; ${machine}; ${versions.join(", ")}; eddy from ${eddyFrom}; ${seconds} s)\n\n${tables.join("\n\n")}\n`,
);

const jsonPath = resolve(ROOT, flags.json);
mkdirSync(dirname(jsonPath), { recursive: true });
writeFileSync(
  jsonPath,
  `${JSON.stringify({ date: new Date().toISOString(), machine, versions, eddyRoot, quick: flags.quick, limits, points: selectedPoints, runs }, null, 2)}\n`,
);
console.log(`every figure: ${flags.json}`);
