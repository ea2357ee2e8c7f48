/**
 * The memory flood of the hardening issue, as an attacker would run it: the longest messages the
 * server accepts (4 000 UTF-16 code units of emoji), posted as fast as one client can into
 * thousands of rooms, against each runtime's server started as users start it. Reports whether
 * the server stayed up, its process tree's peak and final RSS (`/proc`), and the retained history
 * `/healthz` reports, against the `--history-bytes` budget.
 *
 * Run: `npx tsx scripts/flood.ts [--posts 100000] [--rooms 10000] [--budget 268435456]
 * [--runtimes node,bun,deno]`. Loopback only; bounded by `--posts`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Agent, request } from "undici";
import { sampleTree } from "./_fanout-proc.ts";
import { fileLimit, ROOT, spawnWithLimit } from "./_fanout-servers.ts";

const { values } = parseArgs({
  options: {
    posts: { type: "string", default: "100000" },
    rooms: { type: "string", default: "10000" },
    budget: { type: "string", default: String(256 * 1024 * 1024) },
    runtimes: { type: "string", default: "node,bun,deno" },
    concurrency: { type: "string", default: "16" },
  },
});
const POSTS = Number(values.posts);
const ROOMS = Number(values.rooms);
const BUDGET = Number(values.budget);
const CONCURRENCY = Number(values.concurrency);
const TEXT = "😀".repeat(2000); // 4 000 UTF-16 code units: the longest text a post may carry
const BODY = JSON.stringify({ user: "flood", text: TEXT });
const SCRIPTS: Record<string, string> = { node: "start", bun: "start:bun", deno: "start:deno" };

type Result = {
  runtime: string;
  posted: number;
  failed: Record<string, number>;
  seconds: number;
  up: boolean;
  baselineMiB: number;
  peakMiB: number;
  finalMiB: number;
  retainedMiB: number;
};

const mib = (kib: number) => kib / 1024;

async function flood(runtime: string, port: number): Promise<Result> {
  const pkg = (await import(`${ROOT}package.json`, { with: { type: "json" } })).default as {
    scripts: Record<string, string>;
  };
  const words = pkg.scripts[SCRIPTS[runtime]!]!.split(/\s+/).filter((word) => word !== "exec");
  const [binary, ...args] = words;
  const command = binary === "node" ? process.execPath : `${ROOT}node_modules/.bin/${binary}`;
  const flags = ["--port", String(port), "--bot", "off", "--rate-limit", "off", "--history-bytes", String(BUDGET)];
  const child = spawnWithLimit(
    [command, ...args.map((arg) => (arg.endsWith(".ts") ? `${ROOT}${arg}` : arg)), ...flags],
    fileLimit(),
    "pipe",
  );
  child.stdout!.resume();
  child.stderr!.resume();
  const base = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: CONCURRENCY, pipelining: 1 });
  const health = async () => {
    const response = await request(`${base}/healthz`, { dispatcher: agent });
    return (await response.body.json()) as { retainedBytes?: number };
  };
  for (let i = 0; ; i++) {
    try {
      await health();
      break;
    } catch {
      if (i > 200) throw new Error(`${runtime} server did not start`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const baseline = sampleTree(child.pid!).rssKiB;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, sampleTree(child.pid!).rssKiB)), 250);
  const failed: Record<string, number> = {};
  let posted = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < POSTS; i = next++) {
        try {
          const response = await request(`${base}/rooms/flood${i % ROOMS}/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: BODY,
            dispatcher: agent,
          });
          await response.body.dump();
          if (response.statusCode === 201) posted++;
          else failed[response.statusCode] = (failed[response.statusCode] ?? 0) + 1;
        } catch (error) {
          const code = (error as { code?: string }).code ?? "error";
          failed[code] = (failed[code] ?? 0) + 1;
        }
        if (i % 10_000 === 0)
          process.stderr.write(`[${runtime}] ${i} posts, RSS ${mib(sampleTree(child.pid!).rssKiB).toFixed(0)} MiB\n`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  // What stays once the garbage of the flood is collected (V8 and JSC free lazily): 10 s idle.
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const final = sampleTree(child.pid!).rssKiB;
  let retained = Number.NaN;
  let up = false;
  try {
    retained = (await health()).retainedBytes ?? Number.NaN;
    up = true;
  } catch {}
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {}
  await new Promise((resolve) => child.once("exit", resolve));
  await agent.close();
  return {
    runtime,
    posted,
    failed,
    seconds,
    up,
    baselineMiB: mib(baseline),
    peakMiB: mib(Math.max(peak, final)),
    finalMiB: mib(final),
    retainedMiB: retained / 1024 / 1024,
  };
}

const results: Result[] = [];
let port = 19050;
for (const runtime of values.runtimes.split(",")) results.push(await flood(runtime, port++));
console.log(
  `\n${POSTS} posts of 4 000 code units into ${ROOMS} rooms, --history-bytes ${(BUDGET / 1024 / 1024).toFixed(0)} MiB\n`,
);
console.log(
  "| runtime | up after | posted (201) | other answers | posts/s | RSS before / peak / 10 s after MiB | retained MiB |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of results) {
  console.log(
    `| ${r.runtime} | ${r.up ? "yes" : "**no**"} | ${r.posted} | ${JSON.stringify(r.failed)} | ${(r.posted / r.seconds).toFixed(0)} | ${r.baselineMiB.toFixed(0)} / ${r.peakMiB.toFixed(0)} / ${r.finalMiB.toFixed(0)} | ${r.retainedMiB.toFixed(1)} |`,
  );
}
