/**
 * connect() over a real socket: the runtime's own `fetch` against a `node:http` server started in
 * the test on port 0, so reconnects, the idle watchdog, Retry-After and a body cut mid-event go
 * through a real HTTP stack rather than the stub of test/connect.test.ts.
 *
 * Runtime-neutral (node:http and the global fetch exist on Node, Bun and Deno):
 * test/runtimes.test.ts runs this file under Bun and Deno too. No test sleeps: each waits for the
 * server's n-th request or the client's next event, with a deadline.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { afterEach, expect, test } from "vitest";
import { ConnectError, connect, type RetryInfo, type ServerSentEvent } from "../core/mod.ts";
import { collect } from "./_harness.ts";
import { waitFor, within } from "./_server.ts";

const SSE = { "content-type": "text/event-stream", "cache-control": "no-store" };
/** How long any one awaited step may take before the test fails, in ms. */
const DEADLINE = 10_000;

type Handler = (request: IncomingMessage, response: ServerResponse, index: number) => void;

type Seen = { method: string; lastEventId: string | null; closed: boolean };

/** A local HTTP server answering the n-th request (from 0) with `handler`, and what it saw. */
type TestServer = {
  url: string;
  /** One entry per request, in arrival order. */
  requests: Seen[];
  /** Resolves once the server has received `count` requests. */
  received(count: number): Promise<Seen>;
  close(): Promise<void>;
};

const open: TestServer[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => server.close()));
});

async function serve(handler: Handler): Promise<TestServer> {
  const requests: Seen[] = [];
  const waiting: { count: number; resolve: (seen: Seen) => void }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    const seen: Seen = {
      method: request.method ?? "",
      lastEventId: (request.headers["last-event-id"] as string | undefined) ?? null,
      closed: false,
    };
    const index = requests.push(seen) - 1;
    response.once("close", () => (seen.closed = true));
    for (const waiter of waiting.filter((w) => w.count === requests.length)) waiter.resolve(seen);
    handler(request, response, index);
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  const testServer: TestServer = {
    url: `http://127.0.0.1:${port}/events`,
    requests,
    received(count) {
      if (requests.length >= count) return Promise.resolve(requests[count - 1]!);
      return within(DEADLINE, new Promise<Seen>((resolve) => waiting.push({ count, resolve })), `request ${count}`);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  open.push(testServer);
  return testServer;
}

/** The next event, or the end, within the deadline. */
function next(events: AsyncIterator<ServerSentEvent>, what: string): Promise<IteratorResult<ServerSentEvent>> {
  return within(DEADLINE, events.next(), what);
}

test("connect's idleTimeout reopens a stalled connection with Last-Event-ID and reads on", async () => {
  const server = await serve((_request, response, index) => {
    response.writeHead(200, SSE);
    // The first answer sends one event, then nothing more while keeping the socket open.
    if (index === 0) response.write("id: 7\ndata: before the stall\n\n");
    else response.end("id: 8\ndata: after the stall\n\n");
  });
  const errors: unknown[] = [];
  const retries: RetryInfo[] = [];
  const events = connect(server.url, {
    idleTimeout: 200,
    reconnectionTime: 0,
    onError: (error) => errors.push(error),
    onRetry: (info) => retries.push(info),
  });
  try {
    expect((await next(events, "the first event")).value).toEqual({
      type: "message",
      data: "before the stall",
      lastEventId: "7",
    });
    const second = next(events, "the event after the stall");
    const reopened = await server.received(2);
    expect(reopened.lastEventId).toBe("7");
    expect((await second).value).toEqual({ type: "message", data: "after the stall", lastEventId: "8" });
    // The watchdog, not the server, ended the first attempt, and the client dropped its socket.
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ConnectError);
    expect(errors[0]).toMatchObject({ reason: "idle" });
    expect(retries).toEqual([{ delay: 0, attempt: 1, reason: "idle" }]);
    await waitFor(() => server.requests[0]!.closed, { timeoutMs: DEADLINE, what: "the stalled request to close" });
  } finally {
    events.close();
  }
});

test("connect ends the iteration on a 204 from a real server", async () => {
  const server = await serve((_request, response) => {
    response.writeHead(204);
    response.end();
  });
  const events = connect(server.url, { reconnectionTime: 0 });
  expect(await within(DEADLINE, collect(events), "the iteration to end")).toEqual([]);
  expect(events.readyState).toBe("closed");
  expect(server.requests).toHaveLength(1);
});

test("connect fails with a ConnectError on a 500 when backoff is off, without retrying", async () => {
  const server = await serve((_request, response) => {
    response.writeHead(500, { "content-type": "text/plain" });
    response.end("broken");
  });
  const events = connect(server.url, { reconnectionTime: 0 });
  const failure = await within(
    DEADLINE,
    collect(events).then(
      () => undefined,
      (error: unknown) => error,
    ),
    "the iteration to fail",
  );
  expect(failure).toBeInstanceOf(ConnectError);
  expect(failure).toMatchObject({ reason: "status", status: 500 });
  expect(events.readyState).toBe("closed");
  expect(server.requests).toHaveLength(1);
});

test("connect with backoff retries a 503 with Retry-After: 0, then reads the stream", async () => {
  const server = await serve((_request, response, index) => {
    if (index < 2) {
      response.writeHead(503, { "retry-after": "0", "content-type": "text/plain" });
      response.end("busy");
      return;
    }
    response.writeHead(200, SSE);
    response.write("id: 1\ndata: at last\n\n");
  });
  const retries: RetryInfo[] = [];
  const events = connect(server.url, {
    reconnectionTime: 0,
    backoff: { initialDelay: 20, maxDelay: 40 },
    onRetry: (info) => retries.push(info),
  });
  try {
    expect((await next(events, "the event after two 503s")).value).toEqual({
      type: "message",
      data: "at last",
      lastEventId: "1",
    });
    expect(server.requests).toHaveLength(3);
    expect(retries.map(({ attempt, reason }) => ({ attempt, reason }))).toEqual([
      { attempt: 1, reason: "status" },
      { attempt: 2, reason: "status" },
    ]);
    // Full jitter over a window doubling from initialDelay: [0, 20) ms, then [0, 40) ms.
    expect(retries[0]!.delay).toBeLessThan(20);
    expect(retries[1]!.delay).toBeLessThan(40);
  } finally {
    events.close();
  }
});

test("connect resumes with Last-Event-ID after the server cuts the body mid-event, and sees every event once", async () => {
  const LAST = 6;
  const responses: ServerResponse[] = [];
  const server = await serve((request, response) => {
    const after = Number(request.headers["last-event-id"] ?? "0");
    if (after >= LAST) {
      response.writeHead(204);
      response.end();
      return;
    }
    response.writeHead(200, SSE);
    // Two whole events, then half of the next one (an id line included): the test cuts the
    // socket there, and the half event must be discarded, its id unused, and sent again.
    response.write(`id: ${after + 1}\ndata: event ${after + 1}\n\nid: ${after + 2}\ndata: event ${after + 2}\n\n`);
    response.write(`id: ${after + 3}\ndata: half of`);
    responses.push(response);
  });
  const retries: RetryInfo[] = [];
  const events = connect(server.url, { reconnectionTime: 0, onRetry: (info) => retries.push(info) });
  const received: ServerSentEvent[] = [];
  try {
    for (let attempt = 0; attempt < LAST / 2; attempt++) {
      for (let i = 0; i < 2; i++) received.push((await next(events, `event ${received.length + 1}`)).value!);
      // Cut only once the client has this body's two whole events: a runtime's fetch may drop
      // body bytes that arrive together with the close (Bun's does), which would test Bun, not
      // connect().
      responses[attempt]!.socket!.destroy();
    }
    expect(await within(DEADLINE, collect(events), "the rest, then the 204")).toEqual([]);
  } finally {
    events.close();
  }
  expect(received).toEqual(
    Array.from({ length: LAST }, (_, i) => ({ type: "message", data: `event ${i + 1}`, lastEventId: String(i + 1) })),
  );
  expect(server.requests.map((seen) => seen.lastEventId)).toEqual([null, "2", "4", "6"]);
  expect(retries.map((info) => info.reason)).toEqual(["network", "network", "network"]);
  expect(events.lastEventId).toBe("6");
});

test("connect reconnects after a clean end of the body, sending the last id it saw", async () => {
  const server = await serve((request, response, index) => {
    if (index === 2) {
      response.writeHead(204);
      response.end();
      return;
    }
    response.writeHead(200, SSE);
    const after = Number(request.headers["last-event-id"] ?? "0");
    // An event without an id keeps the last one: the reconnect still sends it.
    response.end(`id: ${after + 1}\ndata: numbered\n\ndata: unnumbered\n\n`);
  });
  const events = connect(server.url, { reconnectionTime: 0 });
  const received = await within(DEADLINE, collect(events), "both bodies, then the 204");
  expect(received).toEqual([
    { type: "message", data: "numbered", lastEventId: "1" },
    { type: "message", data: "unnumbered", lastEventId: "1" },
    { type: "message", data: "numbered", lastEventId: "2" },
    { type: "message", data: "unnumbered", lastEventId: "2" },
  ]);
  expect(server.requests.map((seen) => [seen.method, seen.lastEventId])).toEqual([
    ["GET", null],
    ["GET", "1"],
    ["GET", "2"],
  ]);
});
