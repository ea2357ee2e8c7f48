/**
 * toEventStream, eventStreamResponse and EventStreamEncoder: pull-based consumption, heartbeats,
 * cancellation and errors. No sleeps: fake timers, or `vi.waitFor` with a deadline.
 */
import { afterEach, expect, test, vi } from "vitest";
import { EventStreamEncoder, eventStreamResponse, toEventStream, type EventMessage } from "../core/mod.ts";
import { collect, streamOf } from "./_harness.ts";

const decoder = new TextDecoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Reads the whole stream as text. */
async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return (await collect(stream)).map((chunk) => decoder.decode(chunk)).join("");
}

/** Reads one chunk as text (`undefined` once the stream is done). */
async function readText(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string | undefined> {
  const { done, value } = await reader.read();
  return done ? undefined : decoder.decode(value);
}

/** Settles the promise-based stream machinery: enough microtask turns for any ready work. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 50; turn++) await Promise.resolve();
}

/** A promise whose state can be inspected without awaiting it. */
function track<T>(promise: Promise<T>): { settled: boolean; value?: T } {
  const state: { settled: boolean; value?: T } = { settled: false };
  promise.then(
    (value) => Object.assign(state, { settled: true, value }),
    () => (state.settled = true),
  );
  return state;
}

afterEach(() => {
  vi.useRealTimers();
});

test("toEventStream writes each message as a frame", async () => {
  const text = await readAll(toEventStream([{ event: "a", id: "1", data: "x\ny" }, { comment: "c" }, { data: "" }]));
  expect(text).toBe("event: a\nid: 1\ndata: x\ndata: y\n\n: c\ndata: \n\n");
});

test("toEventStream accepts sync iterables and string items", async () => {
  function* generator() {
    yield "one";
    yield { event: "two", data: "2" };
  }
  const expected = "data: one\n\nevent: two\ndata: 2\n\n";
  expect(await readAll(toEventStream(["one", { event: "two", data: "2" }]))).toBe(expected);
  expect(await readAll(toEventStream(generator()))).toBe(expected);
  expect(await readAll(toEventStream(new Set<EventMessage | string>(["one", { event: "two", data: "2" }])))).toBe(
    expected,
  );
});

test("toEventStream accepts async iterables", async () => {
  async function* generator() {
    yield "one";
    await Promise.resolve();
    yield { event: "two", data: "2" };
  }
  expect(await readAll(toEventStream(generator()))).toBe("data: one\n\nevent: two\ndata: 2\n\n");
  expect(await readAll(toEventStream(streamOf(["a", "b"])))).toBe("data: a\n\ndata: b\n\n");
});

test("toEventStream writes the retry option first, in a chunk of its own", async () => {
  const reader = toEventStream(["a"], { retry: 2000 }).getReader();
  expect(await readText(reader)).toBe("retry: 2000\n");
  expect(await readText(reader)).toBe("data: a\n\n");
  expect(await readText(reader)).toBeUndefined();
  expect(await readAll(toEventStream([], { retry: 0 }))).toBe("retry: 0\n");
});

test("toEventStream rejects invalid arguments", () => {
  expect(() => toEventStream([], { retry: -1 })).toThrow(RangeError);
  expect(() => toEventStream([], { retry: 1.5 })).toThrow('"retry" must be a non-negative safe integer');
  for (const heartbeat of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, "10" as never]) {
    expect(() => toEventStream([], { heartbeat })).toThrow(RangeError);
    expect(() => toEventStream([], { heartbeat })).toThrow('"heartbeat" must be a positive finite number');
  }
  expect(() => toEventStream("text" as never)).toThrow(TypeError);
  expect(() => toEventStream("text" as never)).toThrow("received a string (wrap it: [text])");
  expect(() => toEventStream(42 as never)).toThrow('"source" must be an iterable or async iterable, received number');
  expect(() => toEventStream(null as never)).toThrow("received null");
});

test("toEventStream coalesces ready events into one chunk", async () => {
  const syncReader = toEventStream(["a", "b", "c"]).getReader();
  expect(await readText(syncReader)).toBe("data: a\n\ndata: b\n\ndata: c\n\n");
  async function* ready() {
    yield "a";
    yield "b";
    await Promise.resolve();
    yield "c";
  }
  const asyncReader = toEventStream(ready()).getReader();
  expect(await readText(asyncReader)).toBe("data: a\n\ndata: b\n\ndata: c\n\n");
});

test("toEventStream sends events that arrive later in a chunk of their own", async () => {
  vi.useFakeTimers();
  async function* slow() {
    yield "a";
    await new Promise((resolve) => setTimeout(resolve, 100));
    yield "b";
  }
  const reader = toEventStream(slow()).getReader();
  expect(await readText(reader)).toBe("data: a\n\n");
  const next = track(readText(reader));
  await vi.advanceTimersByTimeAsync(100);
  expect(next).toEqual({ settled: true, value: "data: b\n\n" });
});

test("toEventStream does not run a sync source ahead of a consumer that does not read", async () => {
  let produced = 0;
  function* endless() {
    for (;;) {
      produced++;
      yield { data: String(produced) };
    }
  }
  const reader = toEventStream(endless()).getReader();
  await settle();
  expect(produced).toBe(0);
  await reader.read();
  await settle();
  // One read takes at most one batch of 128 messages; without reads nothing more is taken.
  expect(produced).toBeGreaterThan(0);
  expect(produced).toBeLessThanOrEqual(129);
  const afterOne = produced;
  await settle();
  expect(produced).toBe(afterOne);
  await reader.read();
  await settle();
  expect(produced).toBeLessThanOrEqual(2 * 129);
  await reader.cancel();
});

test("toEventStream does not run an async source ahead of a consumer that does not read", async () => {
  let produced = 0;
  async function* endless() {
    for (;;) yield { data: String(++produced) };
  }
  const reader = toEventStream(endless()).getReader();
  await settle();
  expect(produced).toBe(0);
  const first = await readText(reader);
  await settle();
  expect(first).toMatch(/^data: 1\n\n/);
  expect(produced).toBeLessThanOrEqual(129);
  const afterOne = produced;
  await settle();
  expect(produced).toBe(afterOne);
  await reader.cancel();
});

test("toEventStream bounds a batch by size as well as by count", async () => {
  let produced = 0;
  const big = "x".repeat(10 * 1024);
  function* endless() {
    for (;;) {
      produced++;
      yield big;
    }
  }
  const reader = toEventStream(endless()).getReader();
  const first = await readText(reader);
  await settle();
  // 16 KiB per batch: the second 10 KiB message fills it.
  expect(produced).toBeLessThanOrEqual(3);
  expect(first!.length).toBeLessThanOrEqual(2 * (big.length + 8));
  await reader.cancel();
});

test("toEventStream runs the generator's finally when the stream is cancelled", async () => {
  const cleaned: string[] = [];
  async function* asyncSource() {
    try {
      for (let i = 0; ; i++) yield String(i);
    } finally {
      cleaned.push("async");
    }
  }
  function* syncSource() {
    try {
      for (let i = 0; ; i++) yield String(i);
    } finally {
      cleaned.push("sync");
    }
  }
  for (const source of [asyncSource(), syncSource()]) {
    const reader = toEventStream(source).getReader();
    await reader.read();
    await reader.cancel(new Error("client went away"));
  }
  await vi.waitFor(() => expect(cleaned).toEqual(["async", "sync"]), { timeout: 2000, interval: 5 });
});

test("toEventStream runs finally when cancelled while the source is idle", async () => {
  let release!: () => void;
  let cleaned = false;
  async function* idle() {
    try {
      yield "a";
      await new Promise<void>((resolve) => (release = resolve));
      yield "b";
    } finally {
      cleaned = true;
    }
  }
  const reader = toEventStream(idle()).getReader();
  await reader.read();
  const pending = reader.read();
  await settle();
  await reader.cancel();
  expect(await pending).toEqual({ done: true, value: undefined });
  // An async generator runs return() only once its pending next() settles.
  release();
  await vi.waitFor(() => expect(cleaned).toBe(true), { timeout: 2000, interval: 5 });
});

test("toEventStream ends the stream and runs finally when the signal aborts", async () => {
  const controller = new AbortController();
  let cleaned = false;
  async function* endless() {
    try {
      for (let i = 0; ; i++) yield String(i);
    } finally {
      cleaned = true;
    }
  }
  const reader = toEventStream(endless(), { signal: controller.signal }).getReader();
  expect(await readText(reader)).toMatch(/^data: 0\n\n/);
  controller.abort();
  expect(await reader.read()).toEqual({ done: true, value: undefined });
  await vi.waitFor(() => expect(cleaned).toBe(true), { timeout: 2000, interval: 5 });
});

test("toEventStream ends at once when the signal is already aborted", async () => {
  let started = false;
  function* source() {
    started = true;
    yield "a";
  }
  expect(await readAll(toEventStream(source(), { signal: AbortSignal.abort(), retry: 5 }))).toBe("retry: 5\n");
  expect(started).toBe(false);
});

test("toEventStream ends the stream cleanly and calls onError when the source throws", async () => {
  const failure = new Error("boom");
  const errors: unknown[] = [];
  let breakDown!: () => void;
  async function* failing() {
    yield "a";
    await new Promise<void>((resolve) => (breakDown = resolve));
    throw failure;
  }
  const reader = toEventStream(failing(), { onError: (error) => errors.push(error) }).getReader();
  expect(await readText(reader)).toBe("data: a\n\n");
  const rest = readText(reader);
  await settle();
  expect(errors).toEqual([]);
  breakDown();
  // The reader sees the end of the stream, not the error.
  expect(await rest).toBeUndefined();
  expect(errors).toEqual([failure]);
  function* failingSync(): Generator<string> {
    throw failure;
  }
  expect(await readAll(toEventStream(failingSync(), { onError: (error) => errors.push(error) }))).toBe("");
  expect(errors).toEqual([failure, failure]);
});

test("toEventStream sends the messages a source yielded before it threw in the same batch", async () => {
  const failure = new Error("boom");
  const errors: unknown[] = [];
  function* sync() {
    yield "a";
    yield "b";
    throw failure;
  }
  async function* async() {
    yield "a";
    yield "b";
    throw failure;
  }
  for (const source of [sync(), async()]) {
    expect(await readAll(toEventStream(source, { onError: (error) => errors.push(error) }))).toBe(
      "data: a\n\ndata: b\n\n",
    );
  }
  expect(errors).toEqual([failure, failure]);
});

test("toEventStream ends the stream cleanly and calls onError when the source yields an invalid message", async () => {
  const errors: unknown[] = [];
  let cleaned = false;
  async function* invalid() {
    try {
      yield "a";
      yield { event: "two\nlines", data: "x" };
      yield "never";
    } finally {
      cleaned = true;
    }
  }
  expect(await readAll(toEventStream(invalid(), { onError: (error) => errors.push(error) }))).toBe("data: a\n\n");
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(TypeError);
  expect((errors[0] as Error).message).toContain('"event" cannot contain a line break');
  // The source is closed: its finally ran and it never yielded again.
  expect(cleaned).toBe(true);
  function* badRetry() {
    yield { retry: -1 };
  }
  expect(await readAll(toEventStream(badRetry(), { onError: (error) => errors.push(error) }))).toBe("");
  expect(errors[1]).toBeInstanceOf(RangeError);
});

test("toEventStream reports a source error to console.error by default", async () => {
  const spy = vi.spyOn(console, "error").mockImplementation(() => {});
  try {
    function* failing(): Generator<string> {
      throw new Error("boom");
    }
    expect(await readAll(toEventStream(failing()))).toBe("");
    expect(spy).toHaveBeenCalledTimes(1);
  } finally {
    spy.mockRestore();
  }
});

test("toEventStream writes lone surrogates as U+FFFD, never as invalid UTF-8", async () => {
  const chunks = await collect(toEventStream([{ data: "a\ud800b", id: "\udfff" }]));
  const text = chunks.map((chunk) => strictUtf8.decode(chunk)).join("");
  expect(text).toBe("id: \ufffd\ndata: a\ufffdb\n\n");
});

test("toEventStream sends heartbeats only while the source is idle", async () => {
  vi.useFakeTimers();
  let release!: (value: string) => void;
  async function* idleThenOne() {
    yield "a";
    yield await new Promise<string>((resolve) => (release = resolve));
  }
  const reader = toEventStream(idleThenOne(), { heartbeat: 1000 }).getReader();
  expect(await readText(reader)).toBe("data: a\n\n");
  // Idle source, waiting consumer: one `:` line per heartbeat period, not before.
  let next = track(readText(reader));
  await vi.advanceTimersByTimeAsync(999);
  expect(next.settled).toBe(false);
  await vi.advanceTimersByTimeAsync(1);
  expect(next).toEqual({ settled: true, value: ":\n" });
  next = track(readText(reader));
  await vi.advanceTimersByTimeAsync(1000);
  expect(next).toEqual({ settled: true, value: ":\n" });
  // The message the source was waiting for comes through the next read.
  next = track(readText(reader));
  await vi.advanceTimersByTimeAsync(500);
  expect(next.settled).toBe(false);
  release("b");
  await vi.advanceTimersByTimeAsync(0);
  expect(next).toEqual({ settled: true, value: "data: b\n\n" });
  expect(await readText(reader)).toBeUndefined();
});

test("toEventStream sends no heartbeat while the source keeps producing", async () => {
  vi.useFakeTimers();
  async function* steady() {
    for (let i = 0; i < 20; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      yield String(i);
    }
  }
  const stream = toEventStream(steady(), { heartbeat: 1000 });
  const text = collect(stream).then((chunks) => chunks.map((chunk) => decoder.decode(chunk)).join(""));
  await vi.advanceTimersByTimeAsync(20 * 500);
  const all = await text;
  expect(all).not.toMatch(/^:/m);
  expect(all.match(/^data: /gm)).toHaveLength(20);
});

test("toEventStream sends no heartbeat while the consumer is not reading", async () => {
  vi.useFakeTimers();
  async function* idle() {
    await new Promise(() => {});
    yield "never";
  }
  const reader = toEventStream(idle(), { heartbeat: 1000 }).getReader();
  await vi.advanceTimersByTimeAsync(5000);
  // Nothing was pulled, so no heartbeat was queued: the first read gets exactly one.
  const next = track(readText(reader));
  await vi.advanceTimersByTimeAsync(1000);
  expect(next).toEqual({ settled: true, value: ":\n" });
  await reader.cancel();
});

test("toEventStream stops heartbeats when the stream is cancelled", async () => {
  vi.useFakeTimers();
  async function* idle() {
    await new Promise(() => {});
    yield "never";
  }
  const reader = toEventStream(idle(), { heartbeat: 1000 }).getReader();
  const next = track(reader.read());
  await vi.advanceTimersByTimeAsync(10);
  await reader.cancel();
  await vi.advanceTimersByTimeAsync(1000);
  expect(next).toEqual({ settled: true, value: { done: true, value: undefined } });
  await vi.advanceTimersByTimeAsync(10_000);
  expect(vi.getTimerCount()).toBe(0);
});

test("eventStreamResponse sets the SSE headers and no hop-by-hop headers", async () => {
  const response = eventStreamResponse(["a"]);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  expect(response.headers.get("cache-control")).toBe("no-cache, no-transform");
  expect(response.headers.get("x-accel-buffering")).toBe("no");
  for (const name of ["connection", "transfer-encoding", "keep-alive", "content-length"]) {
    expect(response.headers.has(name), name).toBe(false);
  }
  expect(await response.text()).toBe("data: a\n\n");
});

test("eventStreamResponse passes status, statusText, extra headers and stream options through", async () => {
  const response = eventStreamResponse(["a"], {
    status: 201,
    statusText: "Created",
    headers: { "x-room": "lobby", "content-type": "text/plain" },
    retry: 1000,
  });
  expect(response.status).toBe(201);
  expect(response.statusText).toBe("Created");
  expect(response.headers.get("x-room")).toBe("lobby");
  // The SSE headers win over conflicting extra headers.
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  expect(await response.text()).toBe("retry: 1000\ndata: a\n\n");
});

test("eventStreamResponse gives frozen extra headers (computed once) the same headers as unfrozen ones, every time", async () => {
  const extra = { "X-Room": "lobby", "content-type": "text/plain", "set-cookie": "a=1" };
  const frozen = Object.freeze({ ...extra });
  const expected = [...eventStreamResponse([], { headers: extra }).headers];
  for (let i = 0; i < 3; i++) {
    const response = eventStreamResponse(["a"], { headers: frozen });
    expect([...response.headers]).toEqual(expected);
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(response.headers.getSetCookie()).toEqual(["a=1"]);
    response.headers.set("x-changed", "1"); // each response has headers of its own
    expect(await response.text()).toBe("data: a\n\n");
  }
  expect(eventStreamResponse([], { headers: frozen }).headers.has("x-changed")).toBe(false);
  expect([...eventStreamResponse([]).headers]).toEqual([
    ["cache-control", "no-cache, no-transform"],
    ["content-type", "text/event-stream; charset=utf-8"],
    ["x-accel-buffering", "no"],
  ]);
  const hopByHop = Object.freeze({ connection: "close" });
  for (let i = 0; i < 2; i++) expect(() => eventStreamResponse([], { headers: hopByHop })).toThrow(TypeError);
});

test("eventStreamResponse rejects a hop-by-hop header with a TypeError", () => {
  for (const name of ["Connection", "keep-alive", "Transfer-Encoding", "upgrade", "proxy-connection"]) {
    expect(() => eventStreamResponse([], { headers: { [name]: "x" } }), name).toThrow(TypeError);
    expect(() => eventStreamResponse([], { headers: [[name, "x"]] }), name).toThrow(
      `"${name.toLowerCase()}" is a hop-by-hop header, which the server manages`,
    );
  }
});

test("EventStreamEncoder encodes each message into one chunk of UTF-8 bytes", async () => {
  const chunks = await collect(
    streamOf<EventMessage>([{ data: "a" }, { event: "e", data: "b\r\nc" }, { comment: "\ud800" }]).pipeThrough(
      new EventStreamEncoder(),
    ),
  );
  expect(chunks.map((chunk) => strictUtf8.decode(chunk))).toEqual([
    "data: a\n\n",
    "event: e\ndata: b\ndata: c\n\n",
    ": \ufffd\n",
  ]);
});

test("EventStreamEncoder errors the stream with the encoder's error on an invalid message", async () => {
  const stream = streamOf<EventMessage>([{ data: "a" }, { id: "a\0" }]).pipeThrough(new EventStreamEncoder());
  const reader = stream.getReader();
  expect(strictUtf8.decode((await reader.read()).value)).toBe("data: a\n\n");
  await expect(reader.read()).rejects.toThrow(TypeError);
  await expect(reader.closed).rejects.toThrow('"id" cannot contain NUL');
});
