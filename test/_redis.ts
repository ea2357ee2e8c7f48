/**
 * A real `redis-server` for the tests: started on a free loopback port in its own temporary
 * directory, stopped (by its PID) after. `.ci/run` installs the Debian package when missing.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort } from "./_server.ts";

export type RedisServer = {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Stops it (SIGTERM, or SIGKILL with `kill`): with AOF, a SIGKILL keeps what was fsynced. */
  stop(options?: { kill?: boolean }): Promise<void>;
  /** Starts it again on the same port; `empty` first deletes its data files (a Redis that lost everything). */
  start(options?: { empty?: boolean }): Promise<void>;
  /** Sends one command over a short-lived raw connection (RESP), resolving with the raw reply text. */
  raw(...args: string[]): Promise<string>;
};

export type RedisServerOptions = {
  /** `always`, `everysec`, or `no` (no AOF at all). Default `no`. */
  appendfsync?: "always" | "everysec" | "no";
  /** Extra `--name value` settings. */
  settings?: Record<string, string>;
};

/**
 * Whether the Redis tests run: when `redis-server` is on this machine, and always in CI (where
 * `.ci/run` installs it), so a missing server fails the suite there instead of skipping quietly.
 */
export function haveRedis(): boolean {
  return process.env.CI === "true" || spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
}

/** Starts a redis-server and resolves once it answers PING. */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "eddy-redis-"));
  const fsync = options.appendfsync ?? "no";
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    fsync === "no" ? "no" : "yes",
    ...(fsync === "no" ? [] : ["--appendfsync", fsync]),
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
    ...Object.entries(options.settings ?? {}).flatMap(([name, value]) => [`--${name}`, value]),
  ];
  let child: ChildProcess | undefined;

  const raw = (...command: string[]): Promise<string> =>
    new Promise((resolve, reject) => {
      const socket = new Socket();
      let reply = "";
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`redis ${command[0]} timed out`));
      }, 5000);
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.connect(port, "127.0.0.1", () => {
        socket.write(`*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
      });
      socket.on("data", (chunk) => {
        reply += chunk.toString("utf8");
        if (reply.endsWith("\r\n")) {
          clearTimeout(timer);
          socket.end();
          resolve(reply);
        }
      });
    });

  const start = async (startOptions: { empty?: boolean } = {}): Promise<void> => {
    if (startOptions.empty === true) {
      rmSync(join(dir, "appendonlydir"), { recursive: true, force: true });
      rmSync(join(dir, "dump.rdb"), { force: true });
    }
    // Its own warnings (e.g. about vm.overcommit_memory) are not the tests' business.
    child = spawn("redis-server", args, { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await raw("PING")).startsWith("+PONG")) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  const stop = async (stopOptions: { kill?: boolean } = {}): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
    running.kill(stopOptions.kill === true ? "SIGKILL" : "SIGTERM");
    await exited;
  };

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    stop,
    start,
    raw,
  };
}

/** Stops the server and removes its directory. */
export async function removeRedis(server: RedisServer | undefined): Promise<void> {
  if (server === undefined) return;
  await server.stop();
  rmSync(server.dir, { recursive: true, force: true });
}
