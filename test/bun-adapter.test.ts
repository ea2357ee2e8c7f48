/**
 * The Bun mount on Bun: a small server script (written to a temporary directory) calls `serve`
 * from adapters/bun.ts, and raw sockets play the clients a server must not keep forever (slow
 * headers, an unfinished body, an idle keep-alive connection) next to event streams that must
 * never be cut, and the requests Bun's own HTTP parser refuses before any handler runs.
 *
 * Bun's deadlines are its `idleTimeout` (10 s by default, which the mount keeps for everything
 * but event streams), enforced on a 4-second tick: a connection is cut 8 to 12 s after its last
 * byte counted, so this file waits about 12 s once, for all three connections together.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECURITY_HEADERS } from "../core/mod.ts";
import { deadlineRoutes, rawClients, type ScriptServer, startScript, trickle } from "./_raw-client.ts";
import { ROOT, waitFor, within } from "./_server.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
/** Bun's default `idleTimeout`, which the mount does not change. */
const IDLE_MS = 10_000;
/** Bun checks timeouts every 4 s: a connection is cut up to one tick early or late. */
const TICK_MS = 4_000;

/** The server: the shared deadline routes (`deadlineRoutes`), and `{ ok: true }` for any other path. */
const SCRIPT = (root: URL) => `
import { serve } from "${new URL("adapters/bun.ts", root).href}";
${deadlineRoutes(root)}
const server = await serve(async (request) => (await route(request)) ?? Response.json({ ok: true }), {
  port: 0,
  onError: (error) => console.error(error),
});
console.log("listening " + server.url);
`;

let server: ScriptServer;
let base: URL;
const raw = rawClients(() => base);
const { open, stream } = raw;

beforeAll(async () => {
  server = await startScript(BUN, ["run", "{script}"], SCRIPT(pathToFileURL(ROOT)), "the Bun server");
  base = server.base;
});

afterAll(() => {
  raw.destroyAll();
  server?.stop();
});

describe("the Bun mount's deadlines [bun]", () => {
  it("cuts slow headers, an unfinished body and an idle keep-alive connection within its idle timeout, never a quiet event stream", async () => {
    // The streams come first: quiet from here on, they are older than every connection cut below.
    const quiet = [await stream("/pushed"), await stream("/pulled")];

    const slow = await open();
    void trickle(slow, `GET / HTTP/1.1\r\nHost: ${base.host}\r\nX-Slow: ${"a".repeat(400)}`, 100); // 40 s of headers

    const unfinished = await open();
    unfinished.socket.write(
      `POST /upload HTTP/1.1\r\nHost: ${base.host}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n`,
    );
    void trickle(unfinished, "x".repeat(1000), 100); // 10 bytes a second: 100 s for the body

    const idle = await open();
    idle.socket.write(`GET /ok HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`);
    await waitFor(() => idle.received().includes('{"ok":true}'), { what: "the keep-alive answer" });

    const [slowClosed, unfinishedClosed, idleClosed] = await within(
      IDLE_MS + TICK_MS * 2,
      Promise.all([slow.closed, unfinished.closed, idle.closed]),
      "the three connections to be closed",
    );
    // Neither early (a tick before the idle timeout) nor late (a tick after, and a busy machine).
    for (const [closed, since] of [
      [slowClosed, slow.openedAt],
      [unfinishedClosed, unfinished.openedAt],
      [idleClosed, idle.lastDataAt()],
    ] as const) {
      expect(closed - since).toBeGreaterThanOrEqual(IDLE_MS - TICK_MS);
      expect(closed - since).toBeLessThan(IDLE_MS + TICK_MS * 1.5);
    }
    // Bun closes these without an answer (no 408): Bun.serve has no hook to send one.
    expect(slow.received()).toBe("");
    expect(unfinished.received()).toBe("");
    // The handler's body stream errored: it did not wait for bytes that were never going to come.
    const stats = (await (await fetch(new URL("/stats", base))).json()) as { bodyErrors: number };
    expect(stats.bodyErrors).toBe(1);

    // Quiet for longer than the idle timeout, the streams are open and still deliver.
    for (const client of quiet) expect(Date.now() - client.lastDataAt()).toBeGreaterThan(IDLE_MS);
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
    const published = (await (await fetch(new URL("/publish", base))).json()) as { consumers: number };
    expect(published.consumers).toBe(1);
    await waitFor(() => quiet[0]?.received().includes("data: later\n\n"), { what: "the later event" });
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
  });

  it("leaves malformed and oversized requests to Bun's parser: a bare 400 or 431, no handler, then closed", async () => {
    const cases: [string, string][] = [
      ["GARBAGE\r\n\r\n", "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"],
      [
        `GET / HTTP/1.1\r\nHost: ${base.host}\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`,
        "HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n",
      ],
    ];
    for (const [head, answer] of cases) {
      const client = await open();
      client.socket.write(head);
      await within(5000, client.closed, `the answer to ${JSON.stringify(head.slice(0, 20))}`);
      // Bun's own fixed answer, written before any handler could run: it cannot carry the
      // security headers or a JSON body, and it echoes nothing of the request.
      expect(client.received()).toBe(answer);
      for (const name of Object.keys(SECURITY_HEADERS)) expect(client.received().toLowerCase()).not.toContain(name);
    }
  });
});
