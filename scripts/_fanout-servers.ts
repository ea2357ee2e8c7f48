/**
 * Private to `scripts/bench-fanout.ts`: the servers under test and their life cycle.
 *
 * Each is started fresh for each point, on its own loopback port in 19000–19999, through
 * `sh -c 'ulimit -n <limit>; exec …'` so it may hold 10 000 sockets (the limit: 65 536 or the
 * hard limit, whichever is lower), in its own process group; it is ready when `GET /healthz`
 * answers 200, and is stopped with SIGTERM to its group (SIGKILL after 5 s). Its stderr is kept
 * (the last lines, and a count) so the report can show what it complained about under load.
 *
 * @module
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { get } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const NODE_TS = [process.execPath, "--import", "tsx"];
/**
 * eddy's chat server without the bot and without replay: only the benchmark's messages flow; no
 * rate limits (one load generator posts and subscribes for thousands of clients).
 */
const EDDY_FLAGS = ["--bot", "off", "--history", "1", "--replay", "0", "--rate-limit", "off"];

/**
 * eddy's command exactly as `npm start` / `npm run start:bun` / `start:deno` of the eddy at
 * `eddyRoot` runs it (the runtime and its flags from that package.json, `exec` dropped), with the
 * runtimes from this checkout: the benchmark measures what users start.
 */
function startScript(eddyRoot: string, script: string): string[] {
  const pkg = JSON.parse(readFileSync(join(eddyRoot, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const words = (pkg.scripts?.[script] ?? "").split(/\s+/).filter((word) => word !== "" && word !== "exec");
  const [runtime, ...args] = words;
  if (runtime === undefined) throw new Error(`${eddyRoot}/package.json has no "${script}" script`);
  const command = runtime === "node" ? process.execPath : runtime === "tsx" ? bin("tsx") : bin(runtime);
  return [command, ...args.map((arg) => (/\.ts$/.test(arg) ? join(eddyRoot, arg) : arg))];
}

export type ServerSpec = {
  name: string;
  label: string;
  /**
   * The command line, listening on 127.0.0.1:`port`; eddy's files are taken from `eddyRoot`.
   * `ports` are all the ports taken for it: `port` first, then one per further instance, then
   * `extraPorts` more (e.g. for its Redis).
   */
  command(port: number, eddyRoot: string, ports: readonly number[]): string[];
  /** Instances serving on consecutive taken ports (default 1); subscribers and posts are spread over them. */
  instances?: number;
  /** Ports it needs besides its instances'. */
  extraPorts?: number;
  /** Appended to each stream's path. */
  streamQuery: string;
};

export const SERVERS: ServerSpec[] = [
  {
    name: "floor",
    label: "floor (node:http, one Buffer per publish)",
    command: (port) => [
      ...NODE_TS,
      fileURLToPath(new URL("./fanout-peers/floor.ts", import.meta.url)),
      "--port",
      String(port),
    ],
    streamQuery: "",
  },
  {
    name: "eddy-node",
    label: "eddy on Node",
    command: (port, eddy) => [...startScript(eddy, "start"), "--port", String(port), ...EDDY_FLAGS],
    streamQuery: "?history=0",
  },
  {
    name: "eddy-bun",
    label: "eddy on Bun",
    command: (port, eddy) => [...startScript(eddy, "start:bun"), "--port", String(port), ...EDDY_FLAGS],
    streamQuery: "?history=0",
  },
  {
    name: "eddy-deno",
    label: "eddy on Deno",
    command: (port, eddy) => [...startScript(eddy, "start:deno"), "--port", String(port), ...EDDY_FLAGS],
    streamQuery: "?history=0",
  },
  {
    name: "eddy-redis",
    label: "eddy on Node, 2 instances + Redis",
    command: (port, eddy, ports) => [
      ...NODE_TS,
      fileURLToPath(new URL("./fanout-peers/eddy-redis.ts", import.meta.url)),
      "--eddy-root",
      eddy,
      "--redis-port",
      String(ports[2]),
      "--",
      ...startScript(eddy, "start"),
      ...EDDY_FLAGS,
      "--port",
      `${port},${ports[1]}`,
    ],
    instances: 2,
    extraPorts: 1,
    streamQuery: "?history=0",
  },
  {
    name: "better-sse",
    label: "better-sse 0.16 (Node, Channel)",
    command: (port) => [
      ...NODE_TS,
      fileURLToPath(new URL("./fanout-peers/better-sse.ts", import.meta.url)),
      "--port",
      String(port),
    ],
    streamQuery: "",
  },
  {
    name: "hono-node",
    label: "Hono streamSSE on Node",
    command: (port) => [
      ...NODE_TS,
      fileURLToPath(new URL("./fanout-peers/hono-node.ts", import.meta.url)),
      "--port",
      String(port),
    ],
    streamQuery: "",
  },
  {
    name: "hono-bun",
    label: "Hono streamSSE on Bun",
    command: (port) => [
      bin("bun"),
      fileURLToPath(new URL("./fanout-peers/hono-bun.ts", import.meta.url)),
      "--port",
      String(port),
    ],
    streamQuery: "",
  },
  {
    name: "hono-deno",
    label: "Hono streamSSE on Deno",
    command: (port) => [
      bin("deno"),
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      fileURLToPath(new URL("./fanout-peers/hono-deno.ts", import.meta.url)),
      "--port",
      String(port),
    ],
    streamQuery: "",
  },
];

/** The open-file limit we ask for: 65 536, or the hard limit if that is lower. */
export function fileLimit(): number {
  const hard = execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim();
  return hard === "unlimited" ? 65_536 : Math.min(65_536, Number(hard));
}

/** Starts `command` in its own process group with the open-file limit raised. */
export function spawnWithLimit(command: string[], limit: number, stdout: "pipe" | "inherit"): ChildProcess {
  return spawn("sh", ["-c", 'ulimit -n "$0" && exec "$@"', String(limit), ...command], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", stdout, "pipe"],
  });
}

/** Ports cycle through 19100–19999, so a point never meets the TIME_WAIT sockets of the last. */
let nextPort = 19100;
function takePort(): number {
  const port = nextPort;
  nextPort = nextPort >= 19999 ? 19100 : nextPort + 1;
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get({ host: "127.0.0.1", port, path: "/healthz", agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on("error", () => resolve(false));
    request.on("timeout", () => request.destroy());
  });
}

export type RunningServer = {
  port: number;
  /** Every instance's port (`port` first). */
  ports: number[];
  pid: number;
  /** Its stderr so far: a count of lines, the first 10 and the last 20. */
  stderr: { lines: number; head: string[]; tail: string[] };
  /** Exit code or signal once it exited. */
  exit: string | null;
  stop(): Promise<void>;
};

/** Starts `spec` on a fresh port; resolves once `/healthz` answers 200 (or rejects after 60 s). */
export async function startServer(spec: ServerSpec, limit: number, eddyRoot: string): Promise<RunningServer> {
  const taken = Array.from({ length: (spec.instances ?? 1) + (spec.extraPorts ?? 0) }, takePort);
  const port = taken[0]!;
  const ports = taken.slice(0, spec.instances ?? 1);
  const child = spawnWithLimit(spec.command(port, eddyRoot, taken), limit, "pipe");
  child.stdout!.resume();
  const server: RunningServer = {
    port,
    ports,
    pid: child.pid!,
    stderr: { lines: 0, head: [], tail: [] },
    exit: null,
    stop: async () => {
      if (server.exit !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      const signal = (name: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, name); // its process group: the server and anything it started
        } catch {}
      };
      signal("SIGTERM");
      if ((await Promise.race([exited.then(() => true), sleep(5000).then(() => false)])) === false) {
        signal("SIGKILL");
        await exited;
      }
    },
  };
  let partial = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => {
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    server.stderr.lines += lines.length;
    server.stderr.head.push(...lines.slice(0, Math.max(0, 10 - server.stderr.head.length)));
    server.stderr.tail.push(...lines);
    server.stderr.tail.splice(0, Math.max(0, server.stderr.tail.length - 20));
  });
  child.once("exit", (code, signal) => (server.exit = signal ?? String(code)));
  const deadline = Date.now() + 60_000;
  while (!(await Promise.all(ports.map(healthy))).every(Boolean)) {
    if (server.exit !== null || Date.now() > deadline) {
      await server.stop();
      throw new Error(
        `${spec.name} did not start (exit ${server.exit ?? "none"}): ${server.stderr.head.slice(0, 4).join(" / ")}`,
      );
    }
    await sleep(100);
  }
  return server;
}
