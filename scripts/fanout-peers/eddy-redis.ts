/**
 * Fan-out setup: eddy as a deployment on Redis runs it. Starts a redis-server (AOF,
 * `appendfsync everysec`, in a temporary directory) on `--redis-port`, then one eddy instance per
 * port of the command's `--port a,b` with `--redis`, and lives until it gets SIGTERM or one of them
 * exits. The benchmark measures this process's whole tree: both instances *and* Redis.
 * Run: `node --import tsx scripts/fanout-peers/eddy-redis.ts --eddy-root DIR --redis-port P -- <eddy command> --port A,B`.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const args = process.argv.slice(2);
const split = args.indexOf("--");
const own = args.slice(0, split);
const command = args.slice(split + 1);
const flag = (name: string) => own[own.indexOf(name) + 1];
const redisPort = Number(flag("--redis-port"));
const portAt = command.indexOf("--port");
const ports = (command[portAt + 1] ?? "").split(",");
const eddy = [...command.slice(0, portAt), ...command.slice(portAt + 2)];
const dir = mkdtempSync(join(tmpdir(), "eddy-bench-redis-"));
const children: ChildProcess[] = [];

function pong(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("error", () => resolve(false));
    socket.connect(redisPort, "127.0.0.1", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
  });
}

function stop(code: number): void {
  for (const child of children) child.kill("SIGTERM");
  Promise.all(
    children.map(
      (child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once("exit", resolve))),
    ),
  ).then(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(code);
  });
}

const redis = spawn(
  "redis-server",
  [
    "--port",
    String(redisPort),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "everysec",
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ],
  // Its own process group: the benchmark's SIGTERM to ours reaches the instances, and Redis
  // only after them (above).
  { stdio: "ignore", detached: true },
);
children.push(redis);
redis.once("exit", () => stop(1));
process.on("SIGTERM", () => stop(0)).on("SIGINT", () => stop(0));
const deadline = Date.now() + 10_000;
while (!(await pong())) {
  if (Date.now() > deadline) stop(1);
  await new Promise((resolve) => setTimeout(resolve, 50));
}
for (const port of ports) {
  const child = spawn(eddy[0]!, [...eddy.slice(1), "--port", port, "--redis", `redis://127.0.0.1:${redisPort}`], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  child.once("exit", () => stop(1));
}
