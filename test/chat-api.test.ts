/**
 * The chat app through `app.fetch(new Request(...))`: every route of docs/PROTOCOL.md, the
 * validation rules, the error shape, security headers, resume, disposal and the room limit.
 * Streams are parsed with our own `parseEventStream`. No sleeps: conditions are awaited with a
 * deadline.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { createChatApp, createMemoryHub, type ChatApp, type ChatAppOptions, type Hub } from "../core/chat/mod.ts";
import { BASE, dataOf, get, messagesOf, post, scriptedResponder, send, subscribersOf, watch } from "./_chat.ts";

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const PAGE = "<!doctype html><title>eddy</title><script src=/chat.js></script>";

const apps: ChatApp[] = [];
function makeApp(options: ChatAppOptions = {}): ChatApp {
  const app = createChatApp({
    responder: null,
    assets: {
      "/": { body: PAGE, type: "text/html; charset=utf-8" },
      "/chat.js": { body: new TextEncoder().encode("console.log('chat')"), type: "text/javascript; charset=utf-8" },
      "/chat.css": { body: "body{}", type: "text/css; charset=utf-8" },
    },
    ...options,
  });
  apps.push(app);
  return app;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

/** Asserts the one error shape: JSON `{"error": "<one sentence>"}` with the given status. */
async function expectError(response: Response | Promise<Response>, status: number, match?: RegExp): Promise<string> {
  const res = await response;
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(typeof body.error).toBe("string");
  expect(body.error).not.toBe("");
  if (match !== undefined) expect(body.error).toMatch(match);
  return body.error as string;
}

describe("page and assets", () => {
  test("GET / serves the page with the CSP that forbids inline script, and the security headers", async () => {
    const app = makeApp();
    const response = await get(app, "/");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toBe(CSP);
    expect(response.headers.get("content-security-policy")).not.toContain("unsafe-inline");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await response.text()).toBe(PAGE);
  });

  test("GET /chat.js and /chat.css serve the given bytes and types; HEAD has the headers and no body", async () => {
    const app = makeApp();
    const script = await get(app, "/chat.js");
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await script.text()).toBe("console.log('chat')");
    expect(await (await get(app, "/chat.css")).text()).toBe("body{}");
    const head = await get(app, "/", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.body).toBeNull();
    expect(head.headers.get("content-length")).toBe(String(new TextEncoder().encode(PAGE).byteLength));
    expect(head.headers.get("content-security-policy")).toBe(CSP);
  });

  test("without assets, / is 404", async () => {
    const app = createChatApp({ responder: null });
    apps.push(app);
    await expectError(get(app, "/"), 404);
  });
});

describe("GET /healthz and GET /rooms", () => {
  test("/healthz reports status, rooms, subscribers, retained history bytes and uptime in seconds", async () => {
    let now = new Date("2025-01-01T00:00:00Z");
    const app = makeApp({ now: () => now });
    await send(app, "a", "hi");
    const watcher = await watch(app, "/rooms/b/events");
    now = new Date("2025-01-01T00:01:30Z");
    const response = await get(app, "/healthz");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ status: "ok", rooms: 2, subscribers: 1, retainedBytes: body.retainedBytes, uptime: 90 });
    // One stored message: its frame, its JSON text at two bytes per unit, a fixed overhead.
    expect(body.retainedBytes).toBeGreaterThan(160);
    expect(body.retainedBytes).toBeLessThan(1000);
    await watcher.cancel();
  });

  test("/rooms lists rooms sorted by subscribers then name, with total and limit", async () => {
    const app = makeApp();
    for (const room of ["zeta", "alpha", "mid"]) await send(app, room, "hi");
    const watchers = [
      await watch(app, "/rooms/mid/events"),
      await watch(app, "/rooms/mid/events"),
      await watch(app, "/rooms/zeta/events"),
    ];
    expect(await (await get(app, "/rooms")).json()).toEqual({
      rooms: [
        { room: "mid", subscribers: 2, messages: 1 },
        { room: "zeta", subscribers: 1, messages: 1 },
        { room: "alpha", subscribers: 0, messages: 1 },
      ],
      total: 3,
    });
    expect(await (await get(app, "/rooms?limit=1")).json()).toEqual({
      rooms: [{ room: "mid", subscribers: 2, messages: 1 }],
      total: 3,
    });
    for (const watcher of watchers) await watcher.cancel();
  });

  test("/rooms refuses a limit that is not a whole number from 1, and caps it at 1000", async () => {
    const app = makeApp();
    for (const limit of ["0", "-1", "lots", "1.5", "", "1e3"])
      await expectError(get(app, `/rooms?limit=${limit}`), 400, /limit/);
    expect((await get(app, "/rooms?limit=5000")).status).toBe(200);
  });
});

describe("GET /metrics", () => {
  /** The value of one sample line, e.g. `eddy_rooms` or `eddy_slow_reader_disconnects_total{reason="overflow"}`. */
  const sample = (text: string, name: string): number => {
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    if (line === undefined) throw new Error(`no sample ${name} in:\n${text}`);
    return Number(line.slice(name.length + 1));
  };

  test("/metrics reports streams, rooms, deliveries, bytes, replays and publish latency as Prometheus text", async () => {
    const app = makeApp({ responder: null });
    await send(app, "r", "before");
    const watcher = await watch(app, "/rooms/r/events"); // replays "before"
    await send(app, "r", "live");
    await watcher.waitFor((events) => messagesOf(events).length === 2);
    const response = await get(app, "/metrics");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    const text = await response.text();
    expect(text).toMatch(/^# HELP eddy_open_streams /m);
    expect(text).toMatch(/^# TYPE eddy_deliveries_total counter$/m);
    expect(sample(text, "eddy_open_streams")).toBe(1);
    expect(sample(text, "eddy_rooms")).toBe(1);
    expect(sample(text, "eddy_replayed_events_total")).toBe(1);
    // "before" (replayed), the presence event of the watcher joining, "live".
    expect(sample(text, "eddy_deliveries_total")).toBeGreaterThanOrEqual(3);
    expect(sample(text, "eddy_written_bytes_total")).toBeGreaterThan(sample(text, "eddy_deliveries_total") * 20);
    expect(sample(text, "eddy_publish_seconds_count")).toBe(2);
    expect(sample(text, 'eddy_publish_seconds_bucket{le="+Inf"}')).toBe(2);
    expect(sample(text, 'eddy_slow_reader_disconnects_total{reason="overflow"}')).toBe(0);
    await watcher.cancel();
  });

  test("/metrics counts a slow reader cut for overflow", async () => {
    const app = makeApp({ responder: null, queueLimit: 4 });
    const response = await get(app, "/rooms/r/events?history=0");
    const reader = response.body!.getReader();
    await reader.read(); // the stream has started; nothing more is read
    for (let i = 0; i < 10; i++) await send(app, "r", `m${i}`);
    const text = await (await get(app, "/metrics")).text();
    expect(sample(text, 'eddy_slow_reader_disconnects_total{reason="overflow"}')).toBe(1);
    expect(sample(text, "eddy_open_streams")).toBe(0);
    await reader.cancel().catch(() => {});
  });
});

describe("POST /rooms/:room/messages", () => {
  test("stores the message and answers 201 with its id and author; the stream shows it", async () => {
    const app = makeApp({ now: () => new Date("2025-02-03T04:05:06.789Z") });
    const watcher = await watch(app, "/rooms/lobby/events");
    const response = await post(app, "lobby", { user: "  Zoë ", text: "hello\r\nworld\r!  \n\t" });
    expect(response.status).toBe(201);
    const { id, userId } = (await response.json()) as { id: string; userId: string };
    expect(id).toMatch(/^[0-9a-z]+\.1-1$/);
    await watcher.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(watcher.events)[0]).toEqual({
      id,
      room: "lobby",
      user: "Zoë",
      userId,
      text: "hello\nworld\n!",
      time: "2025-02-03T04:05:06.789Z",
    });
    expect(watcher.events.find((e) => e.type === "message")?.lastEventId).toBe(id);
    await watcher.cancel();
  });

  test("room names: 1-64 Unicode letters (with marks), digits, _ -, percent-decoded then NFC", async () => {
    const app = makeApp();
    expect((await post(app, "a-Z_09", { user: "u", text: "t" })).status).toBe(201);
    expect((await post(app, "x".repeat(64), { user: "u", text: "t" })).status).toBe(201);
    expect((await post(app, "%61bc", { user: "u", text: "t" })).status).toBe(201); // "abc"
    expect((await post(app, "caf%C3%A9", { user: "u", text: "t" })).status).toBe(201); // "café"
    expect((await post(app, encodeURIComponent("회의실"), { user: "u", text: "t" })).status).toBe(201);
    expect((await post(app, encodeURIComponent("ঘর১২"), { user: "u", text: "t" })).status).toBe(201); // Bengali digits
    expect((await post(app, encodeURIComponent("ü".repeat(64)), { user: "u", text: "t" })).status).toBe(201);
    const refused = [
      "x".repeat(65),
      encodeURIComponent("ü".repeat(65)), // 65 characters, 130 bytes
      "a.b",
      "a%20b",
      "%2F",
      "%E2%82%AC", // € is a symbol
      "%zz",
      "%7Bhash%7D", // braces would break the Redis hash tag
      "a%E3%80%80b", // ideographic space
      "a%E2%80%8Bb", // zero-width space
      "%E3%85%A4", // a Hangul filler: a letter that shows nothing
      "%CC%81a", // a combining mark first
      "%F0%9F%98%80", // an emoji
      "a%00b",
      "a!b",
    ];
    for (const room of refused) {
      await expectError(post(app, room, { user: "u", text: "t" }), 400, /room name/);
    }
    // An empty segment is no route at all.
    await expectError(post(app, "", { user: "u", text: "t" }), 404);
  });

  test("user names: trimmed, 1-32 letters, digits, spaces, _ - .; bot is reserved", async () => {
    const app = makeApp();
    for (const user of ["alice", "Zoë", "李小龍", "r2 d2", "a_b-c.d", "x".repeat(32), "  padded  ", "Ａｌｉｃｅ"]) {
      expect((await post(app, "r", { user, text: "hi" })).status, user).toBe(201);
    }
    const refused: Array<[unknown, RegExp]> = [
      ["", /1 to 32/],
      ["   ", /1 to 32/],
      ["x".repeat(33), /1 to 32/],
      ["tab\there", /may only hold/],
      ["nul\0", /may only hold/],
      ["new\nline", /may only hold/],
      ["<script>", /may only hold/],
      ["a@b", /may only hold/],
      ["emoji😀", /may only hold/],
      ["bot", /reserved/],
      ["BoT", /reserved/],
      [" bot ", /reserved/],
      ["ｂｏｔ", /reserved/],
      [42, /must be a string/],
      [null, /must be a string/],
    ];
    for (const [user, match] of refused) await expectError(post(app, "r", { user, text: "hi" }), 400, match);
  });

  test("text: CRLF and CR become LF, trailing whitespace trimmed, 1-4000 characters, no control characters but TAB and LF", async () => {
    const app = makeApp();
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "a\r\nb\rc\n\td   \n\n");
    await send(app, "r", "  leading kept");
    await send(app, "r", "😀".repeat(4000)); // 4000 characters, 8000 UTF-16 units
    await watcher.waitFor((events) => messagesOf(events).length === 3);
    expect(messagesOf(watcher.events).map((m) => m.text)).toEqual([
      "a\nb\nc\n\td",
      "  leading kept",
      "😀".repeat(4000),
    ]);
    const refused: Array<[unknown, RegExp]> = [
      ["", /empty/],
      [" \n\r\n\t ", /empty/],
      ["nul\0inside", /control characters/],
      ["escape\x1b[31m", /control characters/],
      ["bell\x07", /control characters/],
      ["del\x7f", /control characters/],
      ["c1\x85", /control characters/],
      ["lone \ud800 surrogate", /surrogate/],
      ["x".repeat(4001), /at most 4000/],
      [["array"], /must be a string/],
    ];
    for (const [text, match] of refused) await expectError(post(app, "r", { user: "u", text }), 400, match);
    await watcher.cancel();
  });

  test("CR/LF in text cannot inject SSE fields: the frame carries it as JSON", async () => {
    const app = makeApp();
    const watcher = await watch(app, "/rooms/r/events");
    const text = "one\r\n\r\nevent: reset\ndata: {}\nid: 999\r\r";
    await send(app, "r", text);
    await watcher.waitFor((events) => messagesOf(events).length === 1);
    expect(watcher.events.map((e) => e.type)).toEqual(["presence", "message"]);
    expect(messagesOf(watcher.events)[0]?.text).toBe("one\n\nevent: reset\ndata: {}\nid: 999");
    await watcher.cancel();
  });

  test("the body must be a JSON object with exactly user and text", async () => {
    const app = makeApp();
    const cases: Array<[unknown, RegExp]> = [
      [{ user: "u", text: "t", admin: true }, /unexpected fields: "admin"/],
      [{ user: "u", text: "t", __proto__x: 1 }, /unexpected fields/],
      ['{"user":"u","text":"t","__proto__":{"a":1}}', /unexpected fields: "__proto__"/],
      [{ user: "u" }, /missing the "text"/],
      [{ text: "t" }, /missing the "user"/],
      ["[1,2]", /JSON object/],
      ['"just a string"', /JSON object/],
      ["null", /JSON object/],
    ];
    for (const [body, match] of cases) await expectError(post(app, "r", body), 400, match);
  });

  test("invalid JSON and invalid UTF-8 are 400", async () => {
    const app = makeApp();
    for (const body of ["", "{", "{'user':'u'}", '{"user":"u","text":"t"} trailing', "\u0000"]) {
      await expectError(post(app, "r", body), 400, /not valid JSON/);
    }
    const invalidUtf8 = [
      new Uint8Array([0x7b, 0x22, 0x75, 0xff, 0x22, 0x7d]), // 0xFF never appears in UTF-8
      new Uint8Array([0x22, 0xc3, 0x22]), // truncated two-byte sequence
      new Uint8Array([0x22, 0xed, 0xa0, 0x80, 0x22]), // an encoded surrogate
      new Uint8Array([0x22, 0xc0, 0xaf, 0x22]), // overlong "/"
    ];
    for (const bytes of invalidUtf8) {
      const response = await app.fetch(
        new Request(`${BASE}/rooms/r/messages`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: bytes,
        }),
      );
      await expectError(response, 400, /not valid UTF-8/);
    }
  });

  test("the content type must be application/json (UTF-8): else 415", async () => {
    const app = makeApp();
    const body = JSON.stringify({ user: "u", text: "t" });
    expect((await post(app, "r", body, { "content-type": "Application/JSON; charset=UTF-8" })).status).toBe(201);
    expect((await post(app, "r", body, { "content-type": 'application/json;charset="utf-8"' })).status).toBe(201);
    for (const type of [
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/json; charset=latin1",
      "application/jsonx",
      "application/json-patch+json",
    ]) {
      await expectError(post(app, "r", body, { "content-type": type }), 415, /Content-Type/);
    }
    const noType = await app.fetch(new Request(`${BASE}/rooms/r/messages`, { method: "POST", body: new Blob([body]) }));
    await expectError(noType, 415);
  });

  test("a body over 16 KiB is 413, by Content-Length or by counting a streamed body", async () => {
    const app = makeApp();
    const limitBody = JSON.stringify({ user: "u", text: "x".repeat(4000) }).padEnd(16 * 1024, " ");
    expect(new TextEncoder().encode(limitBody).byteLength).toBe(16 * 1024);
    expect((await post(app, "r", limitBody)).status).toBe(201);
    await expectError(post(app, "r", `${limitBody} `), 413, /larger than 16384 bytes/);
    // A streamed body with no length, bigger than the limit (endless, in fact): the app stops
    // reading just past the limit and cancels it.
    let pulled = 0;
    let cancelled = false;
    const chunk = new TextEncoder().encode(`{"user":"u","text":"${"y".repeat(1000)}`);
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        cancelled = true;
      },
    });
    const request = new Request(`${BASE}/rooms/r/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: endless,
      duplex: "half",
    } as RequestInit);
    expect(request.headers.get("content-length")).toBeNull();
    await expectError(app.fetch(request), 413);
    expect(cancelled).toBe(true);
    // Never more than the limit plus the chunk that crossed it (and what the stream pre-pulls).
    expect(pulled).toBeLessThanOrEqual(16 * 1024 + 3 * chunk.byteLength);
  });
});

describe("POST /rooms/:room/messages with an Idempotency-Key", () => {
  /** A session cookie, as the page holds one (the key is scoped to its user id). */
  async function session(app: ChatApp): Promise<string> {
    const response = await get(app, "/session");
    return (response.headers.get("set-cookie") ?? "").split(";")[0]!;
  }

  test("a retry with the key gets the first answer again, marked; the room and its streams get the message once", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/lobby/events");
    const cookie = await session(app);
    const headers = { cookie, "idempotency-key": '"b6f2c1e0-0d1a-4d5e-9f00-3c2b1a0f9e8d"' };
    const first = await post(app, "lobby", { user: "민수", text: "/bot 안녕?" }, headers);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const answer = await first.json();
    for (const key of [headers["idempotency-key"], "b6f2c1e0-0d1a-4d5e-9f00-3c2b1a0f9e8d"]) {
      const retry = await post(
        app,
        "lobby",
        { user: "민수", text: "/bot 안녕?" },
        { ...headers, "idempotency-key": key },
      );
      expect(retry.status).toBe(201);
      expect(retry.headers.get("idempotent-replayed")).toBe("true");
      expect(await retry.json()).toEqual(answer); // the quoted (Structured Field) and bare forms are one key
    }
    await scripted.called(1);
    const sentinel = await send(app, "lobby", "after");
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.id === sentinel));
    expect(messagesOf(watcher.events).map((m) => m.text)).toEqual(["/bot 안녕?", "after"]);
    expect(scripted.requests).toHaveLength(1); // the retry asked the bot nothing
    scripted.end();
    await watcher.cancel();
  });

  test("the key is the author's: another session's same key is another message; reused for other text, 422", async () => {
    const app = makeApp();
    const [ann, bob] = [await session(app), await session(app)];
    const key = { "idempotency-key": "k-1" };
    const a = await (await post(app, "lobby", { user: "Ann", text: "hi" }, { ...key, cookie: ann })).json();
    const b = await (await post(app, "lobby", { user: "Ann", text: "hi" }, { ...key, cookie: bob })).json();
    expect(a.id).not.toBe(b.id);
    await expectError(
      post(app, "lobby", { user: "Ann", text: "hi again" }, { ...key, cookie: ann }),
      422,
      /Idempotency-Key/,
    );
    await expectError(post(app, "lobby", { user: "Anne", text: "hi" }, { ...key, cookie: ann }), 422);
    expect((await app.hub.history("lobby", 10)).map((m) => m.text)).toEqual(["hi", "hi"]);
  });

  test("a key that is not 1-128 visible ASCII characters is a 400 that stores nothing", async () => {
    const app = makeApp();
    for (const bad of ["", '""', "x".repeat(129), "with space", "caf\u00e9", 'a"b', "a\\b"]) {
      await expectError(
        post(app, "lobby", { user: "Ann", text: "hi" }, { "idempotency-key": bad }),
        400,
        /Idempotency-Key/,
      );
    }
    expect(await app.hub.history("lobby", 10)).toEqual([]);
    expect((await post(app, "lobby", { user: "Ann", text: "hi" }, { "idempotency-key": "x".repeat(128) })).status).toBe(
      201,
    );
  });
});

describe("routing", () => {
  test("unknown paths are 404 in the JSON error shape", async () => {
    const app = makeApp();
    for (const path of ["/nope", "/rooms/", "/rooms/a", "/rooms/a/events/x", "//rooms", "/healthz/", "/chat.js.map"]) {
      await expectError(get(app, path), 404, /nothing at/);
    }
  });

  test("a known path with another method is 405 with Allow", async () => {
    const app = makeApp();
    const cases: Array<[string, string, string]> = [
      ["POST", "/rooms", "GET, HEAD"],
      ["DELETE", "/healthz", "GET, HEAD"],
      ["PUT", "/rooms/a/messages", "GET, HEAD, POST"],
      ["GET", "/rooms/a/typing", "POST"],
      ["POST", "/rooms/a/events", "GET, HEAD"],
      ["POST", "/", "GET, HEAD"],
      ["OPTIONS", "/chat.js", "GET, HEAD"],
    ];
    for (const [method, path, allow] of cases) {
      const response = await get(app, path, { method });
      expect(response.headers.get("allow"), `${method} ${path}`).toBe(allow);
      await expectError(response, 405, /not allowed/);
    }
  });

  test("HEAD is answered like GET without a body", async () => {
    const app = makeApp();
    const health = await get(app, "/healthz", { method: "HEAD" });
    expect(health.status).toBe(200);
    expect(health.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(health.body).toBeNull();
    const events = await get(app, "/rooms/r/events", { method: "HEAD" });
    expect(events.status).toBe(200);
    expect(events.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(events.body).toBeNull();
    // HEAD did not join (or create) the room.
    expect(await (await get(app, "/rooms")).json()).toEqual({ rooms: [], total: 0 });
    const refused = await get(app, "/rooms/bad.name/events", { method: "HEAD" });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(refused.body).toBeNull();
  });

  test("an unexpected error is a 500 in the error shape, reported to onError", async () => {
    const inner = createMemoryHub();
    const failing: Hub = {
      publish: (room, input) => inner.publish(room, input),
      emit: (room, event) => inner.emit(room, event),
      subscribe: (room, options) => inner.subscribe(room, options),
      history: (room, limit) => inner.history(room, limit),
      page: (room, options) => inner.page(room, options),
      typing: (room, who) => inner.typing(room, who),
      room: (room) => inner.room(room),
      rooms: () => Promise.reject(new Error("disk on fire")),
      stats: () => inner.stats(),
      onPresence: (listener) => inner.onPresence(listener),
      close: () => inner.close(),
    };
    const errors: unknown[] = [];
    const app = makeApp({ hub: failing, onError: (error) => errors.push(error) });
    const message = await expectError(get(app, "/rooms"), 500);
    expect(message).not.toContain("disk on fire"); // internals never reach the client
    expect(errors).toEqual([new Error("disk on fire")]);
  });
});

describe("GET /rooms/:room/events", () => {
  test("answers an SSE stream that starts with retry: 2000 and carries the security headers", async () => {
    const app = makeApp();
    const watcher = await watch(app, "/rooms/r/events");
    expect(watcher.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(watcher.response.headers.get("cache-control")).toBe("no-cache, no-transform");
    expect(watcher.response.headers.get("x-accel-buffering")).toBe("no");
    expect(watcher.response.headers.get("content-security-policy")).toBe(CSP);
    expect(watcher.response.headers.get("x-content-type-options")).toBe("nosniff");
    await watcher.waitFor((events) => events.length >= 1);
    expect(watcher.retries).toEqual([2000]);
    expect(watcher.events[0]).toEqual({
      type: "presence",
      data: '{"room":"r","subscribers":1,"users":[]}',
      lastEventId: "",
    });
    await watcher.cancel();
  });

  test("refuses a bad room or history parameter with 400", async () => {
    const app = makeApp();
    await expectError(get(app, "/rooms/no%20spaces/events"), 400, /room name/);
    for (const history of ["-1", "x", "2.5"])
      await expectError(get(app, `/rooms/r/events?history=${history}`), 400, /history/);
  });

  test("replays the last replayCount messages by default, ?history=n on request (capped at the ring)", async () => {
    const app = makeApp({ replayCount: 3, historySize: 6 });
    for (let i = 1; i <= 8; i++) await send(app, "r", `m${i}`);
    const cases: Array<[string, string[]]> = [
      ["", ["m6", "m7", "m8"]],
      ["?history=1", ["m8"]],
      ["?history=0", []],
      ["?history=100", ["m3", "m4", "m5", "m6", "m7", "m8"]],
    ];
    for (const [query, texts] of cases) {
      const watcher = await watch(app, `/rooms/r/events${query}`);
      await watcher.waitFor((events) => events.some((e) => e.type === "presence"));
      expect(
        messagesOf(watcher.events).map((m) => m.text),
        query,
      ).toEqual(texts);
      await watcher.cancel();
    }
  });

  test("resumes after Last-Event-ID (or ?lastEventId=) with no gap and no duplicate", async () => {
    const app = makeApp();
    const ids: string[] = [];
    for (let i = 1; i <= 6; i++) ids.push(await send(app, "r", `m${i}`));
    const viaHeader = await watch(app, "/rooms/r/events", { headers: { "last-event-id": ids[2]! } });
    const viaQuery = await watch(app, `/rooms/r/events?lastEventId=${encodeURIComponent(ids[3]!)}`);
    // The header wins over the query parameter, as EventSource reconnects keep the original URL.
    const both = await watch(app, `/rooms/r/events?lastEventId=${encodeURIComponent(ids[0]!)}`, {
      headers: { "last-event-id": ids[4]! },
    });
    const live = await send(app, "r", "live");
    for (const watcher of [viaHeader, viaQuery, both])
      await watcher.waitFor((events) => messagesOf(events).some((m) => m.id === live));
    expect(messagesOf(viaHeader.events).map((m) => m.text)).toEqual(["m4", "m5", "m6", "live"]);
    expect(messagesOf(viaQuery.events).map((m) => m.text)).toEqual(["m5", "m6", "live"]);
    expect(messagesOf(both.events).map((m) => m.text)).toEqual(["m6", "live"]);
    for (const watcher of [viaHeader, viaQuery, both]) {
      expect(watcher.events.some((e) => e.type === "reset")).toBe(false);
      await watcher.cancel();
    }
  });

  test("a stale cursor gets reset with oldestId, then everything retained", async () => {
    const app = makeApp({ historySize: 3 });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await send(app, "r", `m${i}`));
    const watcher = await watch(app, "/rooms/r/events", { headers: { "last-event-id": ids[0]! } });
    await watcher.waitFor((events) => events.some((e) => e.type === "presence"));
    expect(watcher.events.map((e) => e.type)).toEqual(["reset", "message", "message", "message", "presence"]);
    expect(dataOf(watcher.events, "reset")).toEqual([
      { reason: "history-truncated", lastEventId: ids[0], oldestId: ids[2] },
    ]);
    const foreign = await watch(app, "/rooms/r/events?lastEventId=otherepoch-3");
    await foreign.waitFor((events) => messagesOf(events).length === 3);
    expect(dataOf(foreign.events, "reset")).toEqual([
      { reason: "unknown-cursor", lastEventId: "otherepoch-3", oldestId: ids[2] },
    ]);
    await watcher.cancel();
    await foreign.cancel();
  });

  test("presence reaches every subscriber on join and leave", async () => {
    const app = makeApp();
    const first = await watch(app, "/rooms/r/events");
    const second = await watch(app, "/rooms/r/events");
    await second.waitFor((events) => events.some((e) => e.type === "presence"));
    await second.cancel();
    await first.waitFor((events) => dataOf(events, "presence").length === 3);
    expect(dataOf(first.events, "presence")).toEqual([
      { room: "r", subscribers: 1, users: [] },
      { room: "r", subscribers: 2, users: [] },
      { room: "r", subscribers: 1, users: [] },
    ]);
    await first.cancel();
  });

  test("the subscription is gone once the body is cancelled or the request signal aborts", async () => {
    const app = makeApp();
    const cancelled = await watch(app, "/rooms/r/events");
    const controller = new AbortController();
    const aborted = await watch(app, "/rooms/r/events", { signal: controller.signal });
    expect(await subscribersOf(app, "r")).toBe(2);
    await cancelled.cancel();
    expect(await subscribersOf(app, "r")).toBe(1);
    controller.abort();
    await vi.waitFor(async () => expect(await subscribersOf(app, "r")).toBe(0), { timeout: 5000, interval: 5 });
    expect(await (await get(app, "/healthz")).json()).toMatchObject({ subscribers: 0 });
    await aborted.waitForEnd(); // the aborted stream ends, as the cancelled one did
  });

  test("sends a heartbeat comment while idle", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const app = makeApp({ heartbeatMs: 1000 });
    const response = await get(app, "/rooms/r/events?history=0");
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes('"subscribers":1')) text += decoder.decode((await reader.read()).value);
    const next = reader.read();
    await vi.advanceTimersByTimeAsync(1000);
    expect(decoder.decode((await next).value)).toBe(":\n");
    await reader.cancel();
  });

  test("a subscriber that falls queueLimit events behind is disconnected and resumes by Last-Event-ID", async () => {
    const app = makeApp({ queueLimit: 8 });
    const response = await get(app, "/rooms/r/events?history=0");
    const reader = response.body!.getReader();
    // Read the presence event, remembering nothing else: then stop reading while 30 messages arrive.
    await reader.read();
    const ids: string[] = [];
    for (let i = 1; i <= 30; i++) ids.push(await send(app, "r", `m${i}`));
    expect(await subscribersOf(app, "r")).toBe(0);
    // Its stream ends: cut with an error (so a server destroys the connection, which a stuck
    // reader would never see end cleanly), after whatever the reader had already received.
    for (;;)
      if (
        await reader.read().then(
          (step) => step.done,
          () => true,
        )
      )
        break;
    const resumed = await watch(app, "/rooms/r/events", { headers: { "last-event-id": ids[9]! } });
    await resumed.waitFor((events) => messagesOf(events).length === 20);
    expect(messagesOf(resumed.events).map((m) => m.text)).toEqual(ids.slice(10).map((_, i) => `m${i + 11}`));
    await resumed.cancel();
  });
});

describe("rooms at scale and shutdown", () => {
  test("10 000 rooms fit by default; the next evicts the least recently active idle room", {
    timeout: 60_000,
  }, async () => {
    const app = makeApp({ rateLimit: false }); // one client creating 10 000 rooms is what the limits stop
    const watcher = await watch(app, "/rooms/room-0/events");
    for (let i = 0; i < 10_000; i++) {
      const response = await post(app, `room-${i}`, { user: "u", text: "hi" });
      if (response.status !== 201) throw new Error(`room-${i}: ${response.status}`);
    }
    const listing = (await (await get(app, "/rooms?limit=1000")).json()) as {
      rooms: { room: string }[];
      total: number;
    };
    expect(listing.total).toBe(10_000);
    expect(listing.rooms).toHaveLength(1000);
    expect(listing.rooms[0]?.room).toBe("room-0"); // the one with a subscriber sorts first
    expect((await post(app, "room-new", { user: "u", text: "hi" })).status).toBe(201);
    const names = new Set(
      ((await (await get(app, "/rooms?limit=1000")).json()) as { rooms: { room: string }[] }).rooms.map((r) => r.room),
    );
    expect(names.has("room-0")).toBe(true);
    expect(await (await get(app, "/healthz")).json()).toMatchObject({ rooms: 10_000, subscribers: 1 });
    // room-1 was the least recently active room without subscribers: it is gone.
    const all = (await app.hub.rooms()).map((r) => r.room);
    expect(all).not.toContain("room-1");
    expect(all).toContain("room-2");
    expect(all).toContain("room-new");
    await watcher.cancel();
  });

  test("503 when every room has subscribers and no room can be made", async () => {
    const app = makeApp({ maxRooms: 2 });
    const a = await watch(app, "/rooms/a/events");
    const b = await watch(app, "/rooms/b/events");
    await expectError(post(app, "c", { user: "u", text: "hi" }), 503, /room limit/);
    await expectError(get(app, "/rooms/c/events"), 503, /room limit/);
    expect((await post(app, "a", { user: "u", text: "still fine" })).status).toBe(201);
    await a.cancel();
    expect((await post(app, "c", { user: "u", text: "hi" })).status).toBe(201);
    await b.cancel();
  });

  test("close() ends every stream and later requests get 503", async () => {
    const app = makeApp();
    const watchers = [await watch(app, "/rooms/a/events"), await watch(app, "/rooms/b/events")];
    await app.close();
    for (const watcher of watchers) await watcher.waitForEnd();
    await expectError(get(app, "/healthz"), 503, /shutting down/);
  });
});

/** The `name=value` of a response's session cookie, to send back as `Cookie`. */
function cookieOf(response: Response): string {
  const header = response.headers.get("set-cookie");
  if (header === null) throw new Error("no Set-Cookie");
  return header.split(";")[0]!;
}

async function sessionFor(app: ChatApp): Promise<{ cookie: string; userId: string }> {
  const response = await get(app, "/session");
  const { userId } = (await response.json()) as { userId: string };
  return { cookie: cookieOf(response), userId };
}

function typing(app: ChatApp, room: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return app.fetch(
    new Request(`${BASE}/rooms/${room}/typing`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

type Page = { messages: { id: string; text: string }[]; hasMore: boolean; complete: boolean; oldestId: string | null };

describe("GET /rooms/:room/messages", () => {
  test("pages back through the history: the newest first, then before=<id>; the four fields in order", async () => {
    const app = makeApp({ historySize: 500 });
    const ids: string[] = [];
    for (let i = 1; i <= 120; i++) ids.push(await send(app, "r", `m${i}`));
    const response = await get(app, "/rooms/r/messages");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const first = (await response.json()) as Page;
    expect(Object.keys(first)).toEqual(["messages", "hasMore", "complete", "oldestId"]);
    expect(first.messages.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 71}`));
    expect(first).toMatchObject({ hasMore: true, complete: true, oldestId: ids[0] });
    expect(Object.keys(first.messages[0]!)).toEqual(["id", "room", "user", "userId", "text", "time"]);
    const second = (await (
      await get(app, `/rooms/r/messages?before=${first.messages[0]!.id}&limit=60`)
    ).json()) as Page;
    expect(second.messages.map((m) => m.id)).toEqual(ids.slice(10, 70));
    expect(second.hasMore).toBe(true);
    const last = (await (await get(app, `/rooms/r/messages?before=${ids[10]}&limit=60`)).json()) as Page;
    expect(last.messages.map((m) => m.id)).toEqual(ids.slice(0, 10));
    expect(last.hasMore).toBe(false);
    // limit is capped at 200; an empty before is no before.
    const all = (await (await get(app, "/rooms/r/messages?limit=100000&before=")).json()) as Page;
    expect(all.messages).toHaveLength(120);
    expect(all.hasMore).toBe(false);
  });

  test("a trimmed history is not complete; an unknown room is an empty, complete page", async () => {
    const app = makeApp({ historySize: 3 });
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push(await send(app, "r", `m${i}`));
    expect(await (await get(app, "/rooms/r/messages?limit=2")).json()).toMatchObject({
      hasMore: true,
      complete: false,
      oldestId: ids[2],
    });
    expect(await (await get(app, "/rooms/nobody/messages")).json()).toEqual({
      messages: [],
      hasMore: false,
      complete: true,
      oldestId: null,
    });
  });

  test("before: malformed is 400; well-formed from another room or life is an empty page", async () => {
    const app = makeApp();
    const id = await send(app, "r", "hi");
    const foreign = await send(app, "elsewhere", "x");
    await expectError(get(app, "/rooms/r/messages?before=garbage"), 400, /"before"/);
    await expectError(get(app, `/rooms/r/messages?before=${id}-`), 400, /"before"/);
    const other = (await (await get(app, `/rooms/r/messages?before=${foreign}`)).json()) as Page;
    expect(other).toEqual({ messages: [], hasMore: false, complete: true, oldestId: id });
    const restarted = (await (await get(app, "/rooms/r/messages?before=zzzz.1-1")).json()) as Page;
    expect(restarted).toMatchObject({ messages: [], hasMore: false });
  });

  test("limit must be a whole number from 1; a bad room is 400; HEAD has the headers only", async () => {
    const app = makeApp();
    await send(app, "r", "hi");
    for (const limit of ["0", "-1", "1.5", "x", "", "1e3"]) {
      await expectError(get(app, `/rooms/r/messages?limit=${limit}`), 400, /"limit"/);
    }
    await expectError(get(app, "/rooms/a.b/messages"), 400, /room name/);
    const head = await get(app, "/rooms/r/messages", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(head.body).toBeNull();
  });

  test("a private room's history needs a token, like its stream", async () => {
    const app = makeApp({
      privateRooms: { pattern: /^private-/, secret: "a shared secret for private rooms, 32+ characters" },
    });
    const response = await get(app, "/rooms/private-x/messages");
    expect(response.headers.get("www-authenticate")).toBe('Bearer realm="eddy"');
    await expectError(response, 401);
    expect((await get(app, "/rooms/public/messages")).status).toBe(200);
  });
});

describe("POST /rooms/:room/typing", () => {
  test("204; the room's subscribers get typing with the session's user id, at most once per 2 s per person", async () => {
    const app = makeApp();
    const ann = await sessionFor(app);
    const watcher = await watch(app, "/rooms/r/events");
    const answer = await typing(app, "r", { user: " Ann " }, { cookie: ann.cookie });
    expect(answer.status).toBe(204);
    expect(answer.body).toBeNull();
    expect(answer.headers.get("set-cookie")).toBeNull(); // it had a session
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect((await typing(app, "r", { user: "Ann" }, { cookie: ann.cookie })).status).toBe(204); // absorbed
    // No session: one is given, as a post gives one, and it is a new person.
    const stranger = await typing(app, "r", { user: "Bo" });
    expect(stranger.status).toBe(204);
    expect(stranger.headers.get("set-cookie")).toMatch(/^eddy_session=/);
    await send(app, "r", "after");
    await watcher.waitFor((events) => messagesOf(events).length === 1);
    const seen = watcher.events.filter((event) => event.type === "typing");
    expect(seen.map((event) => JSON.parse(event.data))).toEqual([
      { room: "r", user: "Ann", userId: ann.userId },
      { room: "r", user: "Bo", userId: expect.any(String) },
    ]);
    expect(JSON.parse(seen[1]!.data).userId).not.toBe(ann.userId);
    // No id: the stream's Last-Event-ID stays the last message's.
    expect(seen.every((event) => event.lastEventId === "")).toBe(true);
    // Never stored: not in the history, not replayed.
    expect(((await (await get(app, "/rooms/r/messages")).json()) as Page).messages.map((m) => m.text)).toEqual([
      "after",
    ]);
    const late = await watch(app, "/rooms/r/events");
    await late.waitFor((events) => messagesOf(events).length === 1);
    expect(late.events.some((event) => event.type === "typing")).toBe(false);
  });

  test("the body is {user} checked as a post's; room, content type and size as for posts", async () => {
    const app = makeApp();
    for (const body of [{}, { user: "" }, { user: "bot" }, { user: "a", text: "b" }, { user: 5 }, [], "null"]) {
      await expectError(typing(app, "r", body), 400);
    }
    await expectError(typing(app, "r", "{"), 400, /JSON/);
    await expectError(typing(app, "r", { user: "ann" }, { "content-type": "text/plain" }), 415);
    await expectError(typing(app, "r", JSON.stringify({ user: "x".repeat(20_000) })), 413);
    await expectError(typing(app, "a.b", { user: "ann" }), 400, /room name/);
    expect((await get(app, "/rooms/r/typing")).status).toBe(405);
  });

  test("rate-limited per client with the posts: 429 with Retry-After once the bucket is empty", async () => {
    const app = makeApp({ postBurst: 2, postRate: 0.01 });
    expect((await typing(app, "r", { user: "ann" })).status).toBe(204);
    expect((await post(app, "r", { user: "ann", text: "hi" })).status).toBe(201);
    const refused = await typing(app, "r", { user: "ann" });
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(refused.headers.get("connection")).toBe("close");
    await expectError(refused, 429, /Too many/);
  });
});

describe("who is here: ?user= on the stream", () => {
  test("a stream with a valid name and session is listed in presence; without either it is only counted", async () => {
    const app = makeApp({ presenceIntervalMs: 0 });
    const ann = await sessionFor(app);
    const bo = await sessionFor(app);
    const reader = await watch(app, "/rooms/r/events");
    await watch(app, `/rooms/r/events?user=${encodeURIComponent(" 민지 ")}`, { headers: { cookie: ann.cookie } });
    await watch(app, "/rooms/r/events?user=Bo", { headers: { cookie: bo.cookie } });
    await watch(app, "/rooms/r/events?user=nocookie");
    await watch(app, "/rooms/r/events?user=bot", { headers: { cookie: bo.cookie } }); // reserved: counted only
    await watch(app, "/rooms/r/events", { headers: { cookie: ann.cookie } }); // no name: counted only
    await reader.waitFor((events) => dataOf<{ subscribers: number }>(events, "presence").at(-1)?.subscribers === 6);
    expect(dataOf(reader.events, "presence").at(-1)).toEqual({
      room: "r",
      subscribers: 6,
      users: [
        { userId: bo.userId, user: "Bo" },
        { userId: ann.userId, user: "민지" },
      ],
    });
  });
});

describe("Unicode room names", () => {
  test("a room is its NFC name: both spellings reach one room, echoed and listed normalised", async () => {
    const app = makeApp();
    const nfc = "Café회의실";
    const nfd = nfc.normalize("NFD");
    expect(nfd).not.toBe(nfc);
    const watcher = await watch(app, `/rooms/${encodeURIComponent(nfc)}/events`);
    await send(app, encodeURIComponent(nfd), "hi");
    await watcher.waitFor((events) => messagesOf(events).length === 1);
    expect(messagesOf(watcher.events)[0]!.room).toBe(nfc);
    expect(dataOf<{ room: string }>(watcher.events, "presence")[0]!.room).toBe(nfc);
    const listed = (await (await get(app, "/rooms")).json()) as { rooms: { room: string }[] };
    expect(listed.rooms.map((r) => r.room)).toEqual([nfc]);
    const page = (await (await get(app, `/rooms/${encodeURIComponent(nfd)}/messages`)).json()) as Page;
    expect(page.messages.map((m) => m.text)).toEqual(["hi"]);
  });
});
