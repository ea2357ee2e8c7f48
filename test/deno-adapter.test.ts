/**
 * The Deno mount's deadlines, on Deno: a small server script (written to a temporary directory)
 * calls `serve` from adapters/deno.ts with short deadlines, and raw sockets play the clients a
 * server must not keep forever (slow headers, an unfinished body, an idle keep-alive connection,
 * an upload answered before it was read) next to event streams that must never be cut.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpDeadlines } from "../adapters/_http-limits.ts";
import { SECURITY_HEADERS } from "../core/mod.ts";
import { deadlineRoutes, rawClients, type ScriptServer, startScript, trickle } from "./_raw-client.ts";
import { ROOT, waitFor, within } from "./_server.ts";

const DENO = join(ROOT, "node_modules/.bin/deno");
const HEADERS_MS = 600;
const REQUEST_MS = 1200;
const KEEP_ALIVE_MS = 400;
/** The server checks every quarter of the shortest deadline; this covers that and a busy machine. */
const SLACK_MS = 2500;

/** The server: the shared deadline routes (`deadlineRoutes`), an upload it refuses unread, `{ ok: true }` otherwise. */
const SCRIPT = (root: URL) => `
import { serve } from "${new URL("adapters/deno.ts", root).href}";
${deadlineRoutes(root)}
const [headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs] = Deno.args.map(Number);
const server = await serve(async (request) => {
  if (new URL(request.url).pathname === "/refuse") {
    request.body?.cancel().catch(() => {});
    return errorResponse(413, "The body is too large", { connection: "close" });
  }
  return (await route(request)) ?? Response.json({ ok: true });
}, { port: 0, headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, onError: (error) => console.error(error) });
console.log("listening " + server.url);
`;

let server: ScriptServer;
let base: URL;
const raw = rawClients(() => base);
const { open, stream } = raw;

function expectSecurityHeaders(answer: string): void {
  const head = answer.slice(0, answer.indexOf("\r\n\r\n")).toLowerCase();
  for (const [name, value] of Object.entries(SECURITY_HEADERS))
    expect(head).toContain(`${name}: ${value.toLowerCase()}`);
}

beforeAll(async () => {
  server = await startScript(
    DENO,
    ["run", "--allow-net", "--allow-read", "{script}", String(HEADERS_MS), String(REQUEST_MS), String(KEEP_ALIVE_MS)],
    SCRIPT(pathToFileURL(ROOT)),
    "the Deno server",
  );
  base = server.base;
});

afterAll(() => {
  raw.destroyAll();
  server?.stop();
});

describe("the Deno mount's deadlines [deno]", () => {
  it("cuts slow headers, an unfinished body and an idle keep-alive connection, never a quiet event stream", async () => {
    // The streams come first: quiet from here on, they are older than every connection cut below.
    const quiet = [await stream("/pushed"), await stream("/pulled")];

    const slow = await open();
    void trickle(slow, `GET / HTTP/1.1\r\nHost: ${base.host}\r\nX-Slow: ${"a".repeat(200)}`, 50);

    const unfinished = await open();
    unfinished.socket.write(
      `POST /upload HTTP/1.1\r\nHost: ${base.host}\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n`,
    );
    void trickle(unfinished, "x".repeat(1000), 50); // 20 bytes a second: 50 s for the body

    const idle = await open();
    idle.socket.write(`GET /ok HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`);
    await waitFor(() => idle.received().includes('{"ok":true}'), { what: "the keep-alive answer" });

    const [slowClosed, unfinishedClosed, idleClosed] = await within(
      REQUEST_MS + SLACK_MS * 2,
      Promise.all([slow.closed, unfinished.closed, idle.closed]),
      "the three connections to be closed",
    );
    // Not cut early (half the deadline: a busy client may see events late, never early).
    expect(slowClosed - slow.openedAt).toBeGreaterThanOrEqual(HEADERS_MS / 2);
    expect(slowClosed - slow.openedAt).toBeLessThan(HEADERS_MS + SLACK_MS);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expectSecurityHeaders(slow.received());
    expect(slow.received()).toContain('{"error":"The request did not arrive in time"}');

    expect(unfinishedClosed - unfinished.openedAt).toBeGreaterThanOrEqual(REQUEST_MS / 2);
    expect(unfinishedClosed - unfinished.openedAt).toBeLessThan(REQUEST_MS + SLACK_MS);
    expect(unfinished.received()).toMatch(/^HTTP\/1\.1 408 /);
    expectSecurityHeaders(unfinished.received());
    // The handler's body stream errored: it did not wait for bytes that were never going to come.
    const stats = (await (await fetch(new URL("/stats", base))).json()) as { bodyErrors: number };
    expect(stats.bodyErrors).toBe(1);

    expect(idleClosed - idle.lastDataAt()).toBeGreaterThanOrEqual(KEEP_ALIVE_MS / 2);
    expect(idleClosed - idle.lastDataAt()).toBeLessThan(KEEP_ALIVE_MS + SLACK_MS);

    // Quiet for longer than every deadline, the streams are open and still deliver.
    for (const client of quiet) expect(Date.now() - client.lastDataAt()).toBeGreaterThan(REQUEST_MS);
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
    const published = (await (await fetch(new URL("/publish", base))).json()) as { consumers: number };
    expect(published.consumers).toBe(1);
    await waitFor(() => quiet[0]?.received().includes("data: later\n\n"), { what: "the later event" });
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
  });

  it("closes the connection after answering an upload it did not read, instead of reading the rest", async () => {
    const client = await open();
    let sent = 0;
    let closed = false;
    void client.closed.then(() => (closed = true));
    client.socket.write(
      `POST /refuse HTTP/1.1\r\nHost: ${base.host}\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n`,
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // Upload as fast as the server takes it until it answers and closes, or 32 MiB went.
    while (!closed && sent < 32 * 1024 * 1024) {
      if (!client.socket.write(chunk)) {
        await Promise.race([new Promise((resolve) => client.socket.once("drain", resolve)), client.closed]);
      }
      sent += chunk.length;
    }
    await within(5000, client.closed, "the server to close the connection");
    expect(sent).toBeLessThan(32 * 1024 * 1024);
    // A reset that beats our read of the answer discards it (TCP): check it when it arrived.
    if (client.received() !== "") {
      expect(client.received()).toMatch(/^HTTP\/1\.1 413 /);
      expect(client.received().toLowerCase()).toContain("connection: close");
      expectSecurityHeaders(client.received());
    }
  });

  it("answers a request it cannot parse 400 with the security headers and no parser detail, then closes", async () => {
    const client = await open();
    client.socket.write("NOT HTTP AT ALL\r\n\r\n");
    await within(5000, client.closed, "the server to close the connection");
    expect(client.received()).toMatch(/^HTTP\/1\.1 400 /);
    expectSecurityHeaders(client.received());
    expect(client.received()).toContain('{"error":"The request is not valid HTTP"}');
    expect(client.received().toLowerCase()).toContain("connection: close");
  });

  it("answers a request no Request can represent 400 with a fixed message per cause, echoing none of the request", async () => {
    const cases: [string, string, string][] = [
      ["TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "The request method is not supported", "TRACE"],
      ["GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", "The Host header is not a valid host", "evil.example"],
      [
        "GET http://user:secret@127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "The request target must not carry credentials",
        "secret",
      ],
    ];
    for (const [head, error, echoed] of cases) {
      const client = await open();
      client.socket.write(head);
      await within(5000, client.closed, `the answer to ${JSON.stringify(head)}`);
      expect(client.received()).toMatch(/^HTTP\/1\.1 400 /);
      expectSecurityHeaders(client.received());
      expect(client.received().toLowerCase()).toContain("connection: close");
      expect(client.received()).toContain(JSON.stringify({ error }));
      expect(client.received()).not.toContain(echoed);
    }
  });
});

describe("the Deno mount's deadline options", () => {
  it("default to Node's (60 s headers, 300 s request, 5 s idle), checked every quarter of the shortest", () => {
    expect(httpDeadlines({})).toEqual({
      headersTimeout: 60_000,
      requestTimeout: 300_000,
      keepAliveTimeout: 5_000,
      connectionsCheckingInterval: 15_000,
    });
    expect(httpDeadlines({ requestTimeoutMs: 10_000 }).headersTimeout).toBe(10_000);
    expect(httpDeadlines({ headersTimeoutMs: 0, requestTimeoutMs: 0 }).connectionsCheckingInterval).toBe(30_000);
  });

  it("refuse a negative or fractional deadline, and headers allowed longer than the request", () => {
    expect(() => httpDeadlines({ headersTimeoutMs: -1 })).toThrow(RangeError);
    expect(() => httpDeadlines({ keepAliveTimeoutMs: 1.5 })).toThrow(/keepAliveTimeoutMs must be a whole number/);
    expect(() => httpDeadlines({ headersTimeoutMs: 5000, requestTimeoutMs: 1000 })).toThrow(/must not be longer/);
  });
});
