/**
 * Test helpers for running the chat server as a real child process, once per runtime.
 *
 * - {@link describeMatrix} runs one `describe` per selected runtime, with the runtime in every
 *   test name. Select runtimes with `EDDY_RUNTIMES=node,bun,deno` (default: all three).
 * - {@link startServer} spawns the server with `--port 0`, waits for its
 *   `eddy listening on http://HOST:PORT` line and returns its URL and a way to stop it.
 * - {@link waitFor} and {@link within} replace sleeps: wait for a condition, with a deadline.
 * - {@link tcpProxy} sits between a client and the server and can cut or hold connections.
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CHAT_OPTIONS } from "../core/chat/mod.ts";
import { describe } from "vitest";

/** The repository root: every runtime command runs from here. */
export const ROOT = fileURLToPath(new URL("../", import.meta.url));

/** How to start the chat server on one runtime. */
export type Runtime = {
  /** Shown in test names: `node`, `bun`, `deno`. */
  name: string;
  /** The executable. */
  command: string;
  /** Arguments before the server's own flags. */
  args: readonly string[];
  /** The entry file (relative to {@link ROOT}); the runtime is skipped while it does not exist. */
  entry: string;
};

/**
 * Every runtime the suite knows, each run with its start command from package.json (`npm start`,
 * `npm run start:bun`, `npm run start:deno`), so the suite tests exactly what users start. Node's
 * runs the TypeScript entry through tsx's loader (`node --import tsx`) rather than the `tsx` CLI,
 * so the child's pid is the server itself and signals reach it; bun and deno use the local binaries.
 */
export const RUNTIMES: readonly Runtime[] = [
  fromStartScript("node", "start"),
  fromStartScript("bun"),
  fromStartScript("deno"),
];

function fromStartScript(name: string, script = `start:${name}`): Runtime {
  const scripts =
    (JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as { scripts?: Record<string, string> }).scripts ?? {};
  // `exec` makes the script's shell become the server, so npm's signals reach it; run without it here.
  const words = (scripts[script] ?? "").split(/\s+/).filter((word) => word !== "" && word !== "exec");
  const [binary = name, ...args] = words;
  const command = binary === "node" ? process.execPath : `${ROOT}node_modules/.bin/${binary}`;
  return { name, command, args, entry: args.find((arg) => arg.endsWith(".ts")) ?? `cli/${name}.ts` };
}

/**
 * `runtime` started the way a user starts it, through npm (`npm start --`, `npm run -s
 * start:bun --`): the pid is npm's, so signals go to npm first.
 *
 * @param runtime Which runtime's start script.
 * @returns A runtime whose command is npm.
 */
export function throughNpm(runtime: Runtime): Runtime {
  const script = runtime.name === "node" ? "start" : `start:${runtime.name}`;
  return { ...runtime, name: `npm ${script}`, command: "npm", args: ["run", "--silent", script, "--"] };
}

/**
 * The runtimes named in `EDDY_RUNTIMES` (comma-separated), default all three: `node,bun,deno`.
 *
 * @throws {Error} On a name {@link RUNTIMES} does not know.
 */
function selectedRuntimes(env: Readonly<Record<string, string | undefined>> = process.env): Runtime[] {
  const names = (env.EDDY_RUNTIMES ?? "node,bun,deno")
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return names.map((name) => {
    const runtime = RUNTIMES.find((candidate) => candidate.name === name);
    if (runtime === undefined)
      throw new Error(`Unknown runtime in EDDY_RUNTIMES: "${name}" (known: ${RUNTIMES.map((r) => r.name).join(", ")})`);
    return runtime;
  });
}

/**
 * Runs `fn` inside one `describe` per selected runtime, named `"<name> [<runtime>]"`, so each
 * failure names its runtime. A runtime whose entry file does not exist yet is skipped.
 *
 * @example
 * ```ts
 * describeMatrix("healthz", (runtime) => {
 *   let server: RunningServer;
 *   beforeAll(async () => (server = await startServer(runtime)));
 *   afterAll(() => server.stop());
 *   it("answers ok", async () => expect((await fetch(`${server.url}/healthz`)).status).toBe(200));
 * });
 * ```
 */
export function describeMatrix(name: string, fn: (runtime: Runtime) => void): void {
  for (const runtime of selectedRuntimes()) {
    const present = existsSync(`${ROOT}${runtime.entry}`);
    (present ? describe : describe.skip)(`${name} [${runtime.name}]`, () => fn(runtime));
  }
}

/** A server child process. */
export type RunningServer = {
  /** `http://127.0.0.1:PORT`, from the listening line. */
  url: string;
  pid: number;
  /** Resolves with the exit code and signal when the process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process printed so far. */
  stdout(): string;
  stderr(): string;
  /**
   * Sends `signal` (default SIGTERM) and waits for the exit; after `graceMs` (default 8000)
   * sends SIGKILL. Resolves with how it exited.
   */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
};

/** Output of a process run to completion by {@link runServerCommand}. */
export type CommandResult = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

const LISTENING = /^eddy listening on (http:\/\/\S+)$/m;

/**
 * Spawns the chat server on `runtime` with `--host 127.0.0.1 --port 0` plus `args`, and waits
 * for the listening line.
 *
 * @param runtime Which runtime.
 * @param args Extra server flags (e.g. `["--history", "5"]`).
 * @param options `env` added to the environment; `timeoutMs` for startup (default 20 s).
 * @returns The running server.
 * @throws {Error} If the process exits or the deadline passes first (with its output).
 */
export async function startServer(
  runtime: Runtime,
  args: readonly string[] = [],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<RunningServer> {
  const child = spawnRuntime(runtime, ["--host", "127.0.0.1", "--port", "0", ...args], options.env);
  const out = collect(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const describeOutput = () => `\n--- stdout\n${out.stdout()}\n--- stderr\n${out.stderr()}`;
  let url: string;
  try {
    url = await within(
      options.timeoutMs ?? 20_000,
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const match = LISTENING.exec(out.stdout());
          if (match !== null) resolve(match[1] as string);
        };
        child.stdout?.on("data", check);
        exited.then(({ code, signal }) =>
          reject(
            new Error(
              `${runtime.name} server exited (code ${code}, signal ${signal}) before listening${describeOutput()}`,
            ),
          ),
        );
      }),
      `${runtime.name} server to print its listening line`,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error instanceof Error ? new Error(`${error.message}${describeOutput()}`) : error;
  }
  let stopping: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  return {
    url,
    pid: child.pid as number,
    exited,
    stdout: out.stdout,
    stderr: out.stderr,
    stop(signal = "SIGTERM", graceMs = 8000) {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const killer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        try {
          return await exited;
        } finally {
          clearTimeout(killer);
        }
      })();
      return stopping;
    },
  };
}

/**
 * Runs the server command with exactly `args` (no `--port 0` added) until it exits, e.g. for
 * `--help` or an invalid flag.
 *
 * @throws {Error} If it does not exit within `timeoutMs` (default 20 s); it is then killed.
 */
export async function runServerCommand(
  runtime: Runtime,
  args: readonly string[],
  timeoutMs = 20_000,
): Promise<CommandResult> {
  const child = spawnRuntime(runtime, args);
  const out = collect(child);
  // `close` rather than `exit`: it comes after the output pipes are drained.
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal })),
  );
  try {
    const { code, signal } = await within(timeoutMs, closed, `${runtime.name} ${args.join(" ")} to exit`);
    return { code, signal, stdout: out.stdout(), stderr: out.stderr() };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

function spawnRuntime(runtime: Runtime, args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  // Only the variables the server reads are cleared, so a developer's HOST or PORT cannot leak in:
  // where to listen, the bot's, and every chat option's (from the one table that defines them).
  const base = { ...process.env };
  const chatVariables = Object.values(CHAT_OPTIONS).flatMap((option) => ("env" in option ? [option.env] : []));
  for (const name of [
    "HOST",
    "PORT",
    "EDDY_BOT",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "OPENAI_API_KEY",
    ...chatVariables,
  ]) {
    delete base[name];
  }
  return spawn(runtime.command, [...runtime.args, ...args], {
    cwd: ROOT,
    env: { ...base, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

function collect(child: ChildProcess): { stdout(): string; stderr(): string } {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  return { stdout: () => stdout, stderr: () => stderr };
}

/**
 * Resolves with `promise`, or rejects with `Timed out after N ms waiting for <what>`.
 *
 * @example
 * ```ts
 * const event = await within(5000, nextEvent, "the first event");
 * ```
 */
export async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `check` every `intervalMs` until it returns a value other than `undefined`/`false`,
 * and returns that value; rejects after `timeoutMs` with the last value or error seen.
 *
 * @example
 * ```ts
 * await waitFor(async () => (await subscribers(room)) === 0, { what: "the subscriber to leave" });
 * ```
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"} (last: ${last instanceof Error ? last.message : String(last)})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 20));
  }
}

/** A TCP proxy in front of a server; see {@link tcpProxy}. */
export type TcpProxy = {
  /** `http://127.0.0.1:PORT` of the proxy. */
  url: string;
  /** Destroys every open connection pair (both sides), like a network failure. */
  cut(): void;
  /** While held, new connections wait (unanswered) until {@link TcpProxy.release}. */
  hold(): void;
  release(): void;
  /** Connections accepted so far. */
  accepted(): number;
  /**
   * The answer to the next request whose request line starts with `start` (e.g. `POST /rooms/a/messages`)
   * is lost: the request reaches the server, then the connection is cut as its answer comes back
   * (the client sees a network error, not the answer).
   */
  loseNextAnswer(start: string): void;
  /** Answers lost so far. */
  lostAnswers(): number;
  close(): Promise<void>;
};

/**
 * Starts a loopback TCP proxy to `target` (an `http://host:port` URL), for tests that need to
 * break a connection the client believes is healthy.
 *
 * @example
 * ```ts
 * const proxy = await tcpProxy(server.url);
 * const source = new EventSource(`${proxy.url}/rooms/a/events`);
 * proxy.hold();
 * proxy.cut(); // the client reconnects, and waits until proxy.release()
 * ```
 */
export async function tcpProxy(target: string): Promise<TcpProxy> {
  const { hostname, port } = new URL(target);
  const pairs = new Set<[Socket, Socket]>();
  let held: Socket[] | undefined;
  let accepted = 0;
  let toLose: string | undefined;
  let lost = 0;
  const pipe = (client: Socket) => {
    const upstream = connect(Number(port), hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    let losing = false; // the request on this connection is the one whose answer is to be lost
    client.on("data", (chunk: Buffer) => {
      if (toLose !== undefined && chunk.subarray(0, toLose.length).toString("latin1") === toLose) {
        toLose = undefined;
        losing = true;
      }
    });
    upstream.on("data", () => {
      if (!losing) return;
      lost++;
      end();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server: Server = createServer((client) => {
    accepted++;
    if (held === undefined) pipe(client);
    else {
      client.pause();
      held.push(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  const cut = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    cut,
    hold() {
      held ??= [];
    },
    release() {
      const waiting = held ?? [];
      held = undefined;
      for (const client of waiting) {
        if (!client.destroyed) {
          pipe(client);
          client.resume();
        }
      }
    },
    accepted: () => accepted,
    loseNextAnswer(start) {
      toLose = start;
    },
    lostAnswers: () => lost,
    close() {
      cut();
      for (const client of held ?? []) client.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it; a race is possible but rare). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
