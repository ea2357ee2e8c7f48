/**
 * Raw TCP clients for the mount tests: they play what a server must not keep forever (slow
 * headers, an unfinished body, an idle keep-alive connection) and event streams that must never
 * be cut, and record what came back and when the connection closed.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, waitFor, within } from "./_server.ts";

/** A server script run by a runtime, listening: what it printed, its address, and how to end it. */
export type ScriptServer = { base: URL; output(): string; stop(): void };

/**
 * Writes `source` to a scratch directory and runs it with `command` + `args` (the script's path
 * replaces `"{script}"` in them), until it prints `listening <url>`.
 */
export async function startScript(
  command: string,
  args: readonly string[],
  source: string,
  what: string,
): Promise<ScriptServer> {
  const scratch = mkdtempSync(join(tmpdir(), "eddy-script-"));
  const script = join(scratch, "server.ts");
  writeFileSync(script, source);
  const child: ChildProcess = spawn(
    command,
    args.map((arg) => (arg === "{script}" ? script : arg)),
    { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => (output += text));
  child.stderr?.setEncoding("utf8").on("data", (text: string) => (output += text));
  const stop = () => {
    child.kill("SIGKILL");
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    const url = await waitFor(() => /^listening (\S+)$/m.exec(output)?.[1], {
      timeoutMs: 30_000,
      what: `${what} to listen (output: ${output})`,
    });
    return { base: new URL(url), output: () => output, stop };
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * The routes the Bun and Deno deadline scripts share, as the source text of a script's top
 * level: it imports from core/mod.ts (under `root`) and defines `route(request)`, which answers
 * `/pushed` and `/pulled` (quiet event streams, one event each), `/publish` (one more event on
 * every pushed stream), `/stats` and `/upload` (reads its body; counts one that never arrived in
 * `stats.bodyErrors`), and gives `undefined` for any other path.
 */
export function deadlineRoutes(root: URL): string {
  return `
import { errorResponse, eventStreamResponse, PUSH_SOURCE } from "${new URL("core/mod.ts", root).href}";
const consumers = new Set();
const stats = { bodyErrors: 0 };
const pushed = { [PUSH_SOURCE](consumer) {
  consumers.add(consumer);
  consumer.push({ data: "hello" });
  return () => consumers.delete(consumer);
} };
async function* pulled(signal) {
  yield "hello";
  await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
}
async function route(request) {
  const { pathname } = new URL(request.url);
  if (pathname === "/pushed") return eventStreamResponse(pushed);
  if (pathname === "/pulled") return eventStreamResponse(pulled(request.signal), { signal: request.signal });
  if (pathname === "/publish") {
    for (const consumer of consumers) consumer.push({ data: "later" });
    return Response.json({ consumers: consumers.size });
  }
  if (pathname === "/stats") return Response.json(stats);
  if (pathname === "/upload") {
    try {
      return Response.json({ bytes: (await request.arrayBuffer()).byteLength });
    } catch {
      stats.bodyErrors++;
      return errorResponse(400, "The body did not arrive");
    }
  }
  return undefined;
}
`;
}

/** A raw TCP client that collects what the server sends and notes when the connection closed. */
export type RawClient = {
  socket: Socket;
  received(): string;
  /** When the last bytes arrived (ms since the epoch). */
  lastDataAt(): number;
  /** Resolves with when the connection closed. */
  closed: Promise<number>;
  openedAt: number;
};

/** The raw clients of one server (its address read at each open); `destroyAll` ends them all. */
export function rawClients(base: () => URL): {
  open(): Promise<RawClient>;
  stream(path: string): Promise<RawClient>;
  destroyAll(): void;
} {
  const sockets: Socket[] = [];
  const open = async (): Promise<RawClient> => {
    const url = base();
    const socket = connect(Number(url.port), url.hostname);
    sockets.push(socket);
    let received = "";
    let lastDataAt = 0;
    socket.setEncoding("latin1").on("data", (chunk: string) => {
      received += chunk;
      lastDataAt = Date.now();
    });
    socket.on("error", () => {});
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
    await within(5000, new Promise((resolve) => socket.once("connect", resolve)), "the connection");
    return { socket, received: () => received, lastDataAt: () => lastDataAt, closed, openedAt: Date.now() };
  };
  return {
    open,
    /** Opens an event stream on a raw socket and waits for its first event (`data: hello`). */
    async stream(path) {
      const client = await open();
      client.socket.write(`GET ${path} HTTP/1.1\r\nHost: ${base().host}\r\nAccept: text/event-stream\r\n\r\n`);
      await waitFor(() => client.received().includes("data: hello\n\n"), { what: `the first event of ${path}` });
      return client;
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** Sends `text` a character every `everyMs` until the connection closes. */
export async function trickle(client: RawClient, text: string, everyMs: number): Promise<void> {
  for (const character of text) {
    if (client.socket.destroyed) return;
    client.socket.write(character);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
