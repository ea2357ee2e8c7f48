/**
 * The chat server's HTTP contract (docs/PROTOCOL.md), checked against the real server process
 * on every selected runtime (see `describeMatrix` in `_server.ts`). Clients are undici's
 * `EventSource` and `fetch`. Nothing sleeps: every wait is a condition with a deadline.
 */
import { connect } from "node:net";
import { EventSource, fetch, request, type MessageEvent } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseEventStream, SECURITY_HEADERS, type ServerSentEvent } from "../core/mod.ts";
import {
  describeMatrix,
  runServerCommand,
  startServer,
  tcpProxy,
  throughNpm,
  waitFor,
  within,
  type RunningServer,
} from "./_server.ts";

/** The JSON of a `message` event. */
type Message = { id: string; room: string; user: string; text: string; time: string; replyId?: string; error?: true };
/** One event as a client saw it. */
type Seen = { type: string; data: Record<string, unknown>; lastEventId: string };

const EVENT_TYPES = ["message", "reset", "presence", "reply-start", "reply-delta"] as const;

let roomCounter = 0;
/** A room name no other test uses. */
function freshRoom(label: string): string {
  return `e2e-${label}-${process.pid}-${++roomCounter}`;
}

/** An `EventSource` on a room that records every event in arrival order. */
class Watcher {
  readonly events: Seen[] = [];
  readonly source: EventSource;
  opens = 0;
  errors = 0;

  constructor(url: string) {
    this.source = new EventSource(url);
    this.source.onopen = () => this.opens++;
    this.source.onerror = () => this.errors++;
    for (const type of EVENT_TYPES) {
      this.source.addEventListener(type, (event) => {
        const { data, lastEventId } = event as MessageEvent<string>;
        this.events.push({ type, data: JSON.parse(data) as Record<string, unknown>, lastEventId });
      });
    }
  }

  messages(): Message[] {
    return this.events.filter((event) => event.type === "message").map((event) => event.data as unknown as Message);
  }

  async opened(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.opens > 0, { timeoutMs, what: "the EventSource to open" });
  }

  async untilMessages(count: number, timeoutMs = 10_000): Promise<Message[]> {
    return waitFor(() => (this.messages().length >= count ? this.messages() : undefined), {
      timeoutMs,
      what: `${count} messages (have ${this.messages().length})`,
    });
  }

  close(): void {
    this.source.close();
  }
}

describeMatrix("chat server", (runtime) => {
  let server: RunningServer;
  const watchers: Watcher[] = [];
  const watch = (path: string, base = server.url): Watcher => {
    const watcher = new Watcher(`${base}${path}`);
    watchers.push(watcher);
    return watcher;
  };

  /** POSTs a message; returns the status and parsed JSON body. */
  async function post(room: string, body: unknown, init: { base?: string; contentType?: string; raw?: BodyInit } = {}) {
    const response = await fetch(`${init.base ?? server.url}/rooms/${room}/messages`, {
      method: "POST",
      headers: { "content-type": init.contentType ?? "application/json" },
      body: (init.raw ?? JSON.stringify(body)) as string,
      duplex: "half",
    } as Parameters<typeof fetch>[1]);
    return {
      status: response.status,
      headers: response.headers,
      json: (await response.json()) as Record<string, unknown>,
    };
  }

  /** POSTs and expects 201; returns the new message id. */
  async function send(room: string, text: string, user = "tester", base?: string): Promise<string> {
    const result = await post(room, { user, text }, base === undefined ? {} : { base });
    expect(result, `POST to ${room}`).toMatchObject({ status: 201 });
    return result.json.id as string;
  }

  /** The room's subscriber count from `GET /rooms` (0 when the room is not listed). */
  async function subscribers(room: string, base = server.url): Promise<number> {
    const body = (await (await fetch(`${base}/rooms?limit=1000`)).json()) as {
      rooms: { room: string; subscribers: number }[];
    };
    return body.rooms.find((entry) => entry.room === room)?.subscribers ?? 0;
  }

  async function untilSubscribers(room: string, count: number, base = server.url): Promise<void> {
    let seen = 0;
    await waitFor(async () => (seen = await subscribers(room, base)) === count, {
      timeoutMs: 10_000,
      what: `${count} subscribers in ${room}`,
    }).catch((error: Error) => {
      throw new Error(`${error.message}; it had ${seen}`);
    });
  }

  beforeAll(async () => {
    server = await startServer(runtime, ["--typewriter-ms", "1"]);
  });

  afterEach(() => {
    for (const watcher of watchers.splice(0)) watcher.close();
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("prints exactly one line, with the real port", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.url).not.toMatch(/:0$/);
    expect(server.stdout()).toBe(`eddy listening on ${server.url}\n`);
  });

  it("serves the page, its assets and healthz", async () => {
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("<html");
    for (const [path, type] of [
      ["/chat.js", "text/javascript"],
      ["/chat.css", "text/css"],
      ["/i18n/languages.js", "text/javascript"],
      ["/i18n/en.js", "text/javascript"],
      ["/i18n/ko.js", "text/javascript"],
    ]) {
      const asset = await fetch(`${server.url}${path}`);
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type")).toContain(type);
      await asset.arrayBuffer();
    }
    const health = await fetch(`${server.url}/healthz`);
    expect(await health.json()).toMatchObject({
      status: "ok",
      rooms: expect.any(Number),
      subscribers: expect.any(Number),
      uptime: expect.any(Number),
    });
  });

  it("answers the room stream with SSE headers and retry first", async () => {
    const controller = new AbortController();
    const response = await fetch(`${server.url}/rooms/${freshRoom("headers")}/events`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await within(5000, reader.read(), "the first chunk");
    expect(new TextDecoder().decode(first.value)).toMatch(/^retry: 2000\n/);
    controller.abort();
  });

  it("delivers every message to 50 subscribers, in order", async () => {
    const room = freshRoom("fanout");
    const clients = Array.from({ length: 50 }, () => watch(`/rooms/${room}/events`));
    await untilSubscribers(room, 50);
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(await send(room, `message ${i}`, `user ${i % 5}`));
    for (const client of clients) {
      const messages = await client.untilMessages(20);
      expect(messages.map((m) => m.id)).toEqual(ids);
      expect(messages.map((m) => m.text)).toEqual(ids.map((_, i) => `message ${i}`));
      expect(messages.every((m) => m.room === room)).toBe(true);
    }
    // Ids are <epoch>-<seq>, with seq counting up from 1 in the room.
    expect(ids.map(seqOf)).toEqual(ids.map((_, i) => i + 1));
    expect(clients.every((client) => client.messages().length === 20 && client.opens === 1)).toBe(true);
  });

  it("resumes after a broken connection without loss or duplicates (EventSource reconnects with Last-Event-ID)", async () => {
    const room = freshRoom("resume-auto");
    const proxy = await tcpProxy(server.url);
    try {
      const client = watch(`/rooms/${room}/events`, proxy.url);
      await untilSubscribers(room, 1);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await send(room, `before ${i}`));
      await client.untilMessages(5);
      proxy.hold(); // the reconnect will wait until we release it
      proxy.cut(); // the client sees a network failure mid-stream
      await untilSubscribers(room, 0);
      for (let i = 0; i < 5; i++) ids.push(await send(room, `during ${i}`));
      await waitFor(() => proxy.accepted() >= 2, { timeoutMs: 10_000, what: "the EventSource to reconnect" });
      proxy.release();
      await client.untilMessages(10);
      ids.push(await send(room, "after"));
      const messages = await client.untilMessages(11);
      expect(messages.map((m) => m.id)).toEqual(ids);
      expect(client.opens).toBe(2);
      expect(client.events.some((event) => event.type === "reset")).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("resumes by the Last-Event-ID header and by ?lastEventId= after the client closed mid-stream", async () => {
    const room = freshRoom("resume-manual");
    const first = watch(`/rooms/${room}/events`);
    await untilSubscribers(room, 1);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push(await send(room, `part one ${i}`));
    const seen = await first.untilMessages(4);
    first.close();
    await untilSubscribers(room, 0);
    for (let i = 0; i < 4; i++) ids.push(await send(room, `part two ${i}`));
    const cursor = seen.at(-1)?.id as string;

    // Header form, read with fetch and the core parser.
    const viaHeader = await readEvents(
      `${server.url}/rooms/${room}/events`,
      { "last-event-id": cursor },
      (events) => messagesOf(events).length >= 4,
    );
    expect(messagesOf(viaHeader).map((m) => m.id)).toEqual(ids.slice(4));
    expect(viaHeader.at(-1)?.lastEventId).toBe(ids.at(-1));

    // Query form, as a page without header control would use it.
    const second = watch(`/rooms/${room}/events?lastEventId=${encodeURIComponent(cursor)}`);
    await second.untilMessages(4);
    ids.push(await send(room, "live"));
    const resumed = await second.untilMessages(5);
    expect([...seen, ...resumed].map((m) => m.id)).toEqual(ids);
  });

  it("replays the last messages to a client without a cursor, honouring ?history=", async () => {
    const room = freshRoom("replay");
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await send(room, `old ${i}`));
    const events = await readEvents(
      `${server.url}/rooms/${room}/events?history=3`,
      {},
      (seen) => messagesOf(seen).length >= 3,
    );
    expect(messagesOf(events).map((m) => m.id)).toEqual(ids.slice(3));
  });

  it("answers bad inputs correctly while another client keeps streaming", async () => {
    const room = freshRoom("bad-inputs");
    const bystander = watch(`/rooms/${room}/events`);
    await untilSubscribers(room, 1);
    const good = { user: "alice", text: "hello" };
    const bigText = "x".repeat(17 * 1024);
    const chunked = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(JSON.stringify({ user: "alice", text: bigText })));
          controller.close();
        },
      });
    const cases: [string, Promise<{ status: number; json: Record<string, unknown> }>, number][] = [
      ["oversized body", post(room, { user: "alice", text: bigText }), 413],
      ["oversized chunked body", post(room, null, { raw: chunked() }), 413],
      ["invalid JSON", post(room, null, { raw: '{"user": "alice", "text": ' }), 400],
      ["JSON that is not an object", post(room, ["alice", "hi"]), 400],
      [
        "invalid UTF-8",
        post(room, null, {
          raw: new Uint8Array([...new TextEncoder().encode('{"user":"alice","text":"'), 0xff, 0xfe, 0x22, 0x7d]),
        }),
        400,
      ],
      ["wrong content type", post(room, good, { contentType: "text/plain" }), 415],
      [
        "form content type",
        post(room, null, { contentType: "application/x-www-form-urlencoded", raw: "user=alice&text=hi" }),
        415,
      ],
      ["room with a space", post("bad%20room", good), 400],
      ["room of 65 characters", post("r".repeat(65), good), 400],
      ["room with bad percent-encoding", post("bad%ZZ", good), 400],
      ["empty user", post(room, { user: "   ", text: "hi" }), 400],
      ["user named bot", post(room, { user: "BoT", text: "hi" }), 400],
      ["user of 33 characters", post(room, { user: "u".repeat(33), text: "hi" }), 400],
      ["user with a control character", post(room, { user: "al\u0007ice", text: "hi" }), 400],
      ["user with markup", post(room, { user: "<script>", text: "hi" }), 400],
      ["user that is not a string", post(room, { user: 42, text: "hi" }), 400],
      ["empty text", post(room, { user: "alice", text: " \n " }), 400],
      ["text with NUL", post(room, { user: "alice", text: "a\u0000b" }), 400],
      ["text of 4001 characters", post(room, { user: "alice", text: "y".repeat(4001) }), 400],
      ["extra field", post(room, { user: "alice", text: "hi", admin: true }), 400],
      ["missing text", post(room, { user: "alice" }), 400],
    ];
    for (const [label, pending, status] of cases) {
      const result = await pending;
      expect(result.status, label).toBe(status);
      expect(result.json, label).toEqual({ error: expect.any(String) });
      expect((result.json.error as string).length, label).toBeGreaterThan(0);
    }
    // GET reads the history, POST posts: any other method is 405 naming both.
    const wrongMethod = await fetch(`${server.url}/rooms/${room}/messages`, { method: "DELETE" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toContain("POST");
    expect(wrongMethod.headers.get("allow")).toContain("GET");
    expect(await wrongMethod.json()).toEqual({ error: expect.any(String) });
    const nowhere = await fetch(`${server.url}/nowhere`);
    expect(nowhere.status).toBe(404);
    expect(await nowhere.json()).toEqual({ error: expect.any(String) });
    const badLimit = await fetch(`${server.url}/rooms?limit=lots`);
    expect(badLimit.status).toBe(400);
    await badLimit.arrayBuffer();

    // CR and LF inside text are line breaks, never SSE framing: one message arrives, intact.
    const injected = await send(room, "one\r\ntwo\rthree\n\nevent: reset\ndata: {}\nid: 999", "alice");
    const after = await send(room, "still here", "alice");
    const messages = await bystander.untilMessages(2);
    expect(messages.map((m) => [m.id, m.text])).toEqual([
      [injected, "one\ntwo\nthree\n\nevent: reset\ndata: {}\nid: 999"],
      [after, "still here"],
    ]);
    expect(bystander.events.filter((event) => event.type === "reset")).toEqual([]);
    expect(bystander.opens).toBe(1); // the bad requests never disturbed the stream
  });

  it("answers an oversized upload 413 and closes the connection instead of reading the rest", async () => {
    const url = new URL(server.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let answer = "";
    let sent = 0;
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk) => (answer += chunk.toString("latin1")));
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write(
      `POST /rooms/${freshRoom("upload")}/messages HTTP/1.1\r\nHost: ${url.host}\r\n` +
        "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n",
    );
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    // Keep uploading (as fast as the server takes it) until it answers and closes, or 32 MiB went.
    while (answer === "" && !socket.destroyed && sent < 32 * 1024 * 1024 && !socket.closed) {
      if (!socket.write(chunk)) await Promise.race([new Promise((resolve) => socket.once("drain", resolve)), closed]);
      sent += chunk.length;
    }
    await within(10_000, closed, "the server to close the connection");
    expect(sent).toBeLessThan(32 * 1024 * 1024);
    // A reset that beats our read of the answer discards it (TCP): check it when it arrived.
    if (answer !== "") {
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain("connection: close");
    }
  });

  it("answers CONNECT 405 with an empty Allow, JSON and the security headers, then closes: it is no proxy", async () => {
    const url = new URL(server.url);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    let answer = "";
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    socket.on("data", (chunk) => (answer += chunk.toString("latin1")));
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    await within(5000, closed, "the server to answer and close");
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    const lines = head.toLowerCase().split("\r\n");
    expect(lines[0]).toBe("http/1.1 405 method not allowed");
    expect(lines).toContain("allow: ");
    expect(lines).toContain("connection: close");
    for (const [name, value] of Object.entries(SECURITY_HEADERS))
      expect(lines).toContain(`${name}: ${value.toLowerCase()}`);
    expect(JSON.parse(body)).toEqual({ error: "CONNECT is not served here: this server is not a proxy" });
  });

  it("limits posts per client by the connection's address, or by a trusted proxy's X-Forwarded-For", async () => {
    const limited = await startServer(runtime, ["--bot", "off", "--post-burst", "2", "--post-rate", "0.01"]);
    const proxied = await startServer(runtime, [
      "--bot",
      "off",
      "--post-burst",
      "1",
      "--post-rate",
      "0.01",
      "--trust-proxy",
      "1",
    ]);
    try {
      const room = freshRoom("limits");
      const send = (base: string, headers: Record<string, string> = {}) =>
        fetch(`${base}/rooms/${room}/messages`, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ user: "ann", text: "hi" }),
        });
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push((await send(limited.url)).status);
      expect(statuses).toEqual([201, 201, 429]);
      const refused = await send(limited.url);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(((await refused.json()) as { error: string }).error).toMatch(/^Too many messages from this client/);
      // Behind one trusted proxy, each forwarded client has its own bucket.
      expect((await send(proxied.url, { "x-forwarded-for": "203.0.113.1" })).status).toBe(201);
      expect((await send(proxied.url, { "x-forwarded-for": "203.0.113.2" })).status).toBe(201);
      expect((await send(proxied.url, { "x-forwarded-for": "203.0.113.1" })).status).toBe(429);
    } finally {
      await Promise.all([limited.stop(), proxied.stop()]);
    }
  });

  it("answers 10 000 new rooms while another client keeps streaming", async () => {
    const busy = await startServer(runtime, ["--max-rooms", "2000", "--bot", "off", "--rate-limit", "off"]);
    try {
      const room = freshRoom("survivor");
      const bystander = watch(`/rooms/${room}/events`, busy.url);
      await untilSubscribers(room, 1, busy.url);
      const statuses = new Map<number, number>();
      let next = 0;
      // undici's request(): the same HTTP as fetch at a fraction of the client-side cost.
      const worker = async () => {
        for (let i = next++; i < 10_000; i = next++) {
          const result = await request(`${busy.url}/rooms/flood-${i}/messages`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ user: "flooder", text: `room ${i}` }),
          });
          const body = (await result.body.json()) as Record<string, unknown>;
          expect(Object.keys(body), `room ${i}`).toEqual(result.statusCode === 201 ? ["id", "userId"] : ["error"]);
          statuses.set(result.statusCode, (statuses.get(result.statusCode) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      // Each POST either made room (evicting idle rooms) or was refused with 503 at the limit.
      expect(
        [...statuses.keys()].every((status) => status === 201 || status === 503),
        JSON.stringify([...statuses]),
      ).toBe(true);
      expect(statuses.get(201) ?? 0).toBeGreaterThan(0);
      const listing = (await (await fetch(`${busy.url}/rooms?limit=5`)).json()) as {
        rooms: { room: string }[];
        total: number;
      };
      expect(listing.total).toBeLessThanOrEqual(2000);
      expect(listing.rooms[0]?.room).toBe(room); // the only room with a subscriber sorts first
      const id = await send(room, "after the flood", "alice", busy.url);
      expect((await bystander.untilMessages(1)).map((m) => m.id)).toEqual([id]);
      expect(bystander.opens).toBe(1);
      expect(await (await fetch(`${busy.url}/healthz`)).json()).toMatchObject({ status: "ok", subscribers: 1 });
    } finally {
      for (const watcher of watchers.splice(0)) watcher.close();
      await busy.stop();
    }
  }, 120_000);

  it("leaves no subscriber behind when clients disconnect", async () => {
    const room = freshRoom("cleanup");
    const source = watch(`/rooms/${room}/events`);
    const controller = new AbortController();
    const streaming = await fetch(`${server.url}/rooms/${room}/events`, { signal: controller.signal });
    expect(streaming.status).toBe(200);
    await untilSubscribers(room, 2);
    source.close(); // EventSource.close()
    await untilSubscribers(room, 1);
    controller.abort(); // fetch aborted mid-stream
    await untilSubscribers(room, 0);
    // A client whose connection simply dies (no FIN from the application, a reset instead).
    const { hostname, port } = new URL(server.url);
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.write(`GET /rooms/${room}/events HTTP/1.1\r\nHost: ${hostname}:${port}\r\n\r\n`);
    await untilSubscribers(room, 1);
    socket.resetAndDestroy();
    await untilSubscribers(room, 0);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { subscribers: number };
    expect(health.subscribers).toBe(0);
  });

  it("streams a bot reply as reply-start, reply-delta, then a message with replyId", async () => {
    const room = freshRoom("bot");
    const client = watch(`/rooms/${room}/events`);
    await untilSubscribers(room, 1);
    const question = await send(room, "/bot echo one two three four", "alice");
    const messages = await client.untilMessages(2, 20_000);
    const reply = messages[1] as Message;
    expect(messages[0]?.id).toBe(question);
    expect(reply).toMatchObject({ user: "bot", room, text: "one two three four", replyId: expect.any(String) });
    expect(reply.error).toBeUndefined();
    const ofReply = client.events.filter((event) => event.data.replyId === reply.replyId);
    expect(ofReply[0]).toMatchObject({ type: "reply-start", data: { room, user: "bot", inReplyTo: question } });
    expect(ofReply.at(-1)?.type).toBe("message");
    const deltas = ofReply.filter((event) => event.type === "reply-delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(ofReply.slice(1, -1).every((event) => event.type === "reply-delta")).toBe(true);
    expect(`${ofReply[0]?.data.text as string}${deltas.map((event) => event.data.delta).join("")}`).toBe(
      "one two three four",
    );
  });

  it("rejects an unknown flag with exit code 2 and a message", async () => {
    const result = await runServerCommand(runtime, ["--prot", "80"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--prot");
    expect(result.stdout).toBe("");
  });

  it("prints the options for --help and exits 0", async () => {
    const result = await runServerCommand(runtime, ["--help"]);
    expect(result.code).toBe(0);
    for (const text of [
      "--host",
      "--port",
      "--history",
      "--replay",
      "--heartbeat",
      "--queue",
      "--max-rooms",
      "--bot",
      "--openai-base-url",
      "--openai-model",
      "PORT",
      "OPENAI_API_KEY",
    ]) {
      expect(result.stdout).toContain(text);
    }
  });

  describe("with a history of 5", () => {
    let small: RunningServer;
    beforeAll(async () => {
      small = await startServer(runtime, ["--history", "5", "--replay", "5", "--bot", "off"]);
    });
    afterAll(async () => {
      await small?.stop();
    });

    it("sends reset, then what is retained, when the cursor is older than the history", async () => {
      const room = freshRoom("stale");
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await send(room, `m${i + 1}`, "tester", small.url));
      const retained = ids.slice(5);

      // m5 is just before the oldest retained message: nothing was lost, no reset.
      const exact = await readEvents(
        `${small.url}/rooms/${room}/events`,
        { "last-event-id": ids[4] as string },
        (e) => messagesOf(e).length >= 5,
      );
      expect(exact.filter((event) => event.type === "reset")).toEqual([]);
      expect(messagesOf(exact).map((m) => m.id)).toEqual(retained);

      // m4: m5 is gone, so the client is told, then gets what is retained.
      const stale = await readEvents(
        `${small.url}/rooms/${room}/events`,
        { "last-event-id": ids[3] as string },
        (e) => messagesOf(e).length >= 5,
      );
      const typesUntilMessages = stale.filter((event) => event.type !== "presence").map((event) => event.type);
      expect(typesUntilMessages).toEqual(["reset", "message", "message", "message", "message", "message"]);
      expect(JSON.parse(stale.find((event) => event.type === "reset")?.data as string)).toEqual({
        reason: "history-truncated",
        lastEventId: ids[3],
        oldestId: retained[0],
      });
      expect(messagesOf(stale).map((m) => m.id)).toEqual(retained);
    });

    it("sends reset for a cursor from another server instance", async () => {
      const room = freshRoom("foreign");
      const ids: string[] = [];
      for (let i = 0; i < 2; i++) ids.push(await send(room, `m${i}`, "tester", small.url));
      const events = await readEvents(
        `${small.url}/rooms/${room}/events`,
        { "last-event-id": "otherepoch-3" },
        (e) => messagesOf(e).length >= 2,
      );
      expect(JSON.parse(events.find((event) => event.type === "reset")?.data as string)).toMatchObject({
        reason: "unknown-cursor",
        lastEventId: "otherepoch-3",
      });
      expect(messagesOf(events).map((m) => m.id)).toEqual(ids);
    });
  });

  it("cuts off a client that stops reading at its queue limit; it resumes without loss", async () => {
    const slow = await startServer(runtime, [
      "--queue",
      "8",
      "--history",
      "3000",
      "--bot",
      "off",
      "--rate-limit",
      "off",
    ]);
    try {
      const room = freshRoom("slow");
      // undici stops reading the socket while nobody reads the body, so the server's writes
      // block, its event queue fills, and the hub drops the subscriber.
      const response = await fetch(`${slow.url}/rooms/${room}/events`);
      await untilSubscribers(room, 1, slow.url);
      const text = "😀".repeat(4000); // 4000 characters, 16 000 bytes: few posts fill the buffers
      const ids: string[] = [];
      while ((await subscribers(room, slow.url)) > 0) {
        if (ids.length >= 2500) throw new Error("the slow subscriber was never cut off");
        ids.push(...(await Promise.all(Array.from({ length: 8 }, () => send(room, text, "flooder", slow.url)))));
      }
      ids.sort((a, b) => seqOf(a) - seqOf(b)); // concurrent posts answer out of order
      const before = messagesOf(
        await within(20_000, readUntilCut(response.body as ReadableStream<Uint8Array>), "the cut stream to end"),
      );
      expect(before.length).toBeGreaterThan(0);
      expect(before.map((m) => m.id)).toEqual(ids.slice(0, before.length));
      const rest = await readEvents(
        `${slow.url}/rooms/${room}/events`,
        { "last-event-id": before.at(-1)?.id as string },
        (e) => messagesOf(e).length >= ids.length - before.length,
        20_000,
      );
      expect(rest.some((event) => event.type === "reset")).toBe(false);
      expect([...before, ...messagesOf(rest)].map((m) => m.id)).toEqual(ids);
    } finally {
      await slow.stop();
    }
  }, 90_000);

  it.each(["SIGTERM", "SIGINT"] as const)(
    "ends open streams and exits 0 on %s, within 5 s, after the running reply's final message",
    async (signal) => {
      const doomed = await startServer(runtime, ["--typewriter-ms", "500"]);
      const room = freshRoom("sigterm");
      const seen: ServerSentEvent[][] = [[], [], []];
      const ended = seen.map(async (events) => {
        const body = (await fetch(`${doomed.url}/rooms/${room}/events`)).body as ReadableStream<Uint8Array>;
        try {
          for await (const event of parseEventStream(body)) events.push(event);
          return "ended";
        } catch {
          return "cut";
        }
      });
      await untilSubscribers(room, 3, doomed.url);
      await send(room, "/bot help", "alice", doomed.url); // a slow bot reply is in progress
      await waitFor(() => seen.every((events) => events.some((event) => event.type === "reply-delta")), {
        what: "the reply to be streaming",
      });
      const started = Date.now();
      const exit = await within(8000, doomed.stop(signal), "the server to exit");
      expect(exit).toEqual({ code: 0, signal: null });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(await within(2000, Promise.all(ended), "the streams to end")).toEqual(["ended", "ended", "ended"]);
      // PROTOCOL.md: every streamed reply ends with a message carrying its replyId.
      for (const events of seen) {
        const replyId = JSON.parse(events.find((event) => event.type === "reply-start")!.data).replyId as string;
        const final = events
          .filter((event) => event.type === "message")
          .map((event) => JSON.parse(event.data) as Message)
          .find((message) => message.replyId === replyId);
        expect(final, "the reply's final message").toMatchObject({ user: "bot", error: true });
        expect(final!.text).toMatch(/\[Stopped: the server is shutting down\.\]$/);
      }
      expect(doomed.stderr()).not.toContain("exiting anyway");
    },
  );

  it("its npm start script forwards SIGTERM: npm and the server exit, nothing is left serving", async () => {
    const started = await startServer(throughNpm(runtime));
    expect(await (await fetch(`${started.url}/healthz`)).json()).toMatchObject({ status: "ok" });
    const exit = await within(8000, started.stop("SIGTERM"), "npm to exit");
    expect(exit).toEqual({ code: 0, signal: null });
    // An orphaned server would still answer here; the deadline allows for a slow socket close.
    const refused = async () =>
      fetch(`${started.url}/healthz`).then(
        () => false,
        () => true,
      );
    await waitFor(refused, { timeoutMs: 3000, what: "the port to stop answering" });
  });
});

/** The `<seq>` of an `<epoch>-<seq>` id. */
function seqOf(id: string): number {
  return Number(id.slice(id.lastIndexOf("-") + 1));
}

/** Every event of a stream that ends (Node 20 has no `Array.fromAsync`). */
/**
 * The events of a stream the server cuts: it destroys the connection (a slow reader's socket
 * would never see a clean end behind its full buffers), so the read fails after the last whole
 * event; that failure is the expected end here.
 */
async function readUntilCut(body: ReadableStream<Uint8Array>): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  try {
    for await (const event of parseEventStream(body)) events.push(event);
  } catch (error) {
    if (!(error instanceof TypeError && /terminated/.test(error.message))) throw error;
    return events;
  }
  throw new Error(`the stream ended cleanly after ${events.length} events: a cut must destroy the connection`);
}

function messagesOf(events: ServerSentEvent[]): Message[] {
  return events.filter((event) => event.type === "message").map((event) => JSON.parse(event.data) as Message);
}

/**
 * Opens a room stream with `fetch` (so request headers such as Last-Event-ID can be set), reads
 * events with the core parser until `done(events)` holds, then disconnects.
 */
async function readEvents(
  url: string,
  headers: Record<string, string>,
  done: (events: ServerSentEvent[]) => boolean,
  timeoutMs = 10_000,
): Promise<ServerSentEvent[]> {
  const controller = new AbortController();
  const events: ServerSentEvent[] = [];
  try {
    const response = await fetch(url, { headers, signal: controller.signal });
    expect(response.status).toBe(200);
    const reading = (async () => {
      for await (const event of parseEventStream(response.body as ReadableStream<Uint8Array>)) {
        events.push(event);
        if (done(events)) return;
      }
      throw new Error("The stream ended early");
    })();
    await within(timeoutMs, reading, `events from ${url} (have ${events.length})`);
    return events;
  } finally {
    controller.abort();
  }
}
