/**
 * Event streams over push sources (core/_push-stream.ts, core/push-source.ts): both outputs (the
 * readable side, and a sink a mount attaches), the shared frame bytes, the slow-reader bounds
 * (bytes, events, write deadline), heartbeats on one shared timer, and freeing the source.
 */
import { afterEach, expect, test, vi } from "vitest";
import {
  attachSink,
  type ByteSink,
  directResponse,
  EncodedEvent,
  eventStreamResponse,
  type EventStreamOptions,
  PUSH_SOURCE,
  type PushConsumer,
  parseEventStream,
  toEventStream,
} from "../core/mod.ts";

afterEach(() => {
  vi.useRealTimers();
});

/** A push source under the test's control: `consumer` once started, `detached` once stopped. */
function source(backlog: string[] = []) {
  const state = { consumer: undefined as PushConsumer | undefined, starts: 0, detached: 0 };
  return Object.assign(state, {
    [PUSH_SOURCE](consumer: PushConsumer) {
      state.starts++;
      state.consumer = consumer;
      for (const item of backlog) consumer.push(item);
      return () => void state.detached++;
    },
  });
}

/** A sink that records what is written; `full` makes `write` report a full buffer. */
function sink() {
  const state = { written: [] as Uint8Array[], full: false, buffered: 0, ended: 0, destroyed: [] as Error[] };
  const byteSink: ByteSink = {
    write(bytes) {
      state.written.push(bytes);
      if (state.full) state.buffered += bytes.byteLength;
      return !state.full;
    },
    get buffered() {
      return state.buffered;
    },
    end: () => void state.ended++,
    destroy: (error) => void state.destroyed.push(error),
  };
  return Object.assign(state, {
    sink: byteSink,
    text: () => state.written.map((b) => new TextDecoder().decode(b)).join(""),
  });
}

test("toEventStream over a push source writes the retry line, the backlog, then each event as it is pushed", async () => {
  const src = source(["one", "two"]);
  const events = parseEventStream(toEventStream(src, { retry: 1500 }));
  const seen: string[] = [];
  const reading = (async () => {
    for await (const event of events) seen.push(event.data);
  })();
  await vi.waitFor(() => expect(seen).toEqual(["one", "two"]));
  src.consumer!.push({ event: "x", data: "three" });
  src.consumer!.end();
  await reading;
  expect(seen).toEqual(["one", "two", "three"]);
  expect(src.starts).toBe(1);
  expect(src.detached).toBe(1);
});

test("attachSink takes an unread push stream straight to the sink, sending an EncodedEvent's own bytes", () => {
  const src = source();
  const response = eventStreamResponse(src, { retry: 1000 });
  const out = sink();
  const attached = attachSink(response.body, out.sink);
  expect(attached).toBeDefined();
  expect(src.starts).toBe(1);
  const shared = new EncodedEvent({ id: "1", data: "hello" });
  src.consumer!.push(shared);
  expect(out.written.at(-1)).toBe(shared.bytes); // the same Uint8Array, not a copy
  expect(out.text()).toBe("retry: 1000\nid: 1\ndata: hello\n\n");
  src.consumer!.end();
  expect(out.ended).toBe(1);
  expect(src.detached).toBe(1);
  // Attached once: a second mount, or a reader, gets nothing more.
  expect(attachSink(response.body, sink().sink)).toBeUndefined();
});

test("attachSink leaves other bodies to be read as usual", async () => {
  expect(attachSink(toEventStream(["a"]), sink().sink)).toBeUndefined();
  expect(attachSink(new Response("plain").body, sink().sink)).toBeUndefined();
  expect(attachSink(null, sink().sink)).toBeUndefined();
  const body = toEventStream(source(["x"]));
  const reader = body.getReader(); // locked by a reader: not attachable any more
  expect(attachSink(body, sink().sink)).toBeUndefined();
  await reader.cancel();
});

test("a stream whose reader stops is cut at maxBufferedBytes: the sink is destroyed and the source detached", () => {
  const src = source();
  const cuts: string[] = [];
  const options: EventStreamOptions = { maxBufferedBytes: 100, observer: { cut: (reason) => cuts.push(reason) } };
  const out = sink();
  attachSink(toEventStream(src, options), out.sink);
  out.full = true;
  for (let i = 0; i < 10 && out.destroyed.length === 0; i++) src.consumer!.push("x".repeat(30));
  expect(out.destroyed).toHaveLength(1);
  expect(out.destroyed[0]!.message).toMatch(/fell more than 100 bytes/);
  expect(out.ended).toBe(0); // cut, not ended: the client must see a failure
  expect(cuts).toEqual(["overflow"]);
  expect(src.detached).toBe(1);
  src.consumer!.push("after"); // ignored
  expect(out.destroyed).toHaveLength(1);
});

test("maxBufferedEvents cuts a reader that many live events behind; the backlog does not count", () => {
  const src = source(Array.from({ length: 50 }, (_, i) => `old ${i}`));
  const out = sink();
  out.full = true; // the reader reads nothing at all
  attachSink(toEventStream(src, { maxBufferedEvents: 3 }), out.sink);
  expect(out.destroyed).toHaveLength(0); // 50 replayed events went out at once, by design
  src.consumer!.push("a");
  src.consumer!.push("b");
  src.consumer!.push("c");
  expect(out.destroyed).toHaveLength(0);
  src.consumer!.push("d");
  expect(out.destroyed).toHaveLength(1);
});

test("a reader that catches up (drain) is not cut", () => {
  const src = source();
  const out = sink();
  const attached = attachSink(toEventStream(src, { maxBufferedEvents: 2, maxBufferedBytes: 1e6 }), out.sink)!;
  for (let round = 0; round < 5; round++) {
    out.full = true;
    src.consumer!.push("a");
    src.consumer!.push("b");
    out.full = false;
    out.buffered = 0;
    attached.drained();
  }
  expect(out.destroyed).toHaveLength(0);
});

test("the readable side is cut with an error at the bound, so a server destroys the connection", async () => {
  const src = source();
  const body = toEventStream(src, { maxBufferedBytes: 64 });
  const reader = body.getReader();
  const first = reader.read(); // starts the stream; nothing is read after this one
  await vi.waitFor(() => expect(src.consumer).toBeDefined());
  for (let i = 0; i < 5; i++) src.consumer!.push("y".repeat(20));
  expect((await first).done).toBe(false);
  await expect(reader.read()).rejects.toThrow(/fell more than 64 bytes/);
  expect(src.detached).toBe(1);
});

test("writeTimeout cuts a blocked write after the deadline, on the shared timer", async () => {
  vi.useFakeTimers();
  const src = source();
  const cuts: string[] = [];
  const out = sink();
  const attached = attachSink(
    toEventStream(src, { writeTimeout: 3000, observer: { cut: (r) => cuts.push(r) } }),
    out.sink,
  )!;
  out.full = true;
  src.consumer!.push("stuck");
  await vi.advanceTimersByTimeAsync(2000);
  attached.drained(); // caught up in time: the deadline resets
  src.consumer!.push("stuck again");
  await vi.advanceTimersByTimeAsync(2000);
  expect(out.destroyed).toHaveLength(0);
  await vi.advanceTimersByTimeAsync(2000);
  expect(out.destroyed).toHaveLength(1);
  expect(out.destroyed[0]!.message).toMatch(/read nothing for 3000 ms/);
  expect(cuts).toEqual(["timeout"]);
});

test("heartbeats go to idle streams only, and many streams share one timer", async () => {
  vi.useFakeTimers();
  const outs = Array.from({ length: 100 }, () => {
    const src = source();
    const out = sink();
    attachSink(toEventStream(src, { heartbeat: 5000 }), out.sink);
    return { src, out };
  });
  expect(vi.getTimerCount()).toBe(1);
  await vi.advanceTimersByTimeAsync(3000);
  outs[0]!.src.consumer!.push("busy"); // this one was not idle
  await vi.advanceTimersByTimeAsync(2500);
  expect(outs[1]!.out.text()).toBe(":\n");
  expect(outs[0]!.out.text()).toBe("data: busy\n\n");
  await vi.advanceTimersByTimeAsync(5000);
  expect(outs[0]!.out.text()).toBe("data: busy\n\n:\n");
  for (const { src } of outs) src.consumer!.end();
  expect(vi.getTimerCount()).toBe(0); // the timer stops with its last stream
});

test("cancelling the stream, aborting its signal (when read), or dropping the response unread frees the source", async () => {
  const cancelled = source();
  const attached = attachSink(toEventStream(cancelled), sink().sink)!;
  attached.cancel();
  attached.cancel();
  expect(cancelled.detached).toBe(1);

  // Reading side: aborting the signal ends the stream and frees the source.
  const aborted = source();
  const controller = new AbortController();
  const reader = toEventStream(aborted, { signal: controller.signal }).getReader();
  const first = reader.read();
  await vi.waitFor(() => expect(aborted.starts).toBe(1));
  controller.abort();
  expect(aborted.detached).toBe(1);
  expect((await first).done).toBe(true);

  // Attached to a sink, the stream stops watching the signal (it would keep the request's objects
  // alive as long as the connection): the mount ends it with cancel() on shutdown instead.
  const attachedSource = source();
  const other = new AbortController();
  const out = sink();
  const handle = attachSink(toEventStream(attachedSource, { signal: other.signal }), out.sink)!;
  other.abort();
  expect(attachedSource.detached).toBe(0);
  handle.cancel();
  expect(attachedSource.detached).toBe(1);
  expect(out.ended).toBe(1);

  const dropped = source();
  await toEventStream(dropped).cancel(); // never read: started against nothing, then stopped
  expect(dropped.detached).toBe(1);
});

test("a pushed message encodeEvent rejects ends the stream and goes to onError", () => {
  const src = source();
  const errors: unknown[] = [];
  const out = sink();
  attachSink(toEventStream(src, { onError: (error) => errors.push(error) }), out.sink);
  src.consumer!.push({ event: "bad\nname", data: "x" });
  expect(errors).toHaveLength(1);
  expect(out.ended).toBe(1);
  expect(src.detached).toBe(1);
});

test("toEventStream checks the push options", () => {
  const src = source();
  expect(() => toEventStream(src, { maxBufferedBytes: 0 })).toThrow('"maxBufferedBytes" must be a positive number');
  expect(() => toEventStream(src, { maxBufferedEvents: -1 })).toThrow(RangeError);
  expect(() => toEventStream(src, { writeTimeout: Number.POSITIVE_INFINITY })).toThrow('"writeTimeout" must be');
  expect(() => toEventStream(src, { retry: -1 })).toThrow(RangeError);
});

test("a direct response is a Response whose mount view writes to a sink, with the shared header list", () => {
  const src = source(["backlog"]);
  const extra = Object.freeze({ "x-room": "lobby" });
  const response = eventStreamResponse(src, { direct: true, retry: 1000, headers: extra });
  expect(response).toBeInstanceOf(Response);
  expect(Object.prototype.toString.call(response)).toBe("[object Response]");
  expect(response.constructor).toBe(Response);
  expect([response.status, response.ok, response.statusText, response.bodyUsed]).toEqual([200, true, "", false]);
  const direct = directResponse(response)!;
  expect(direct.status).toBe(200);
  expect(direct.headers).toEqual([
    "cache-control",
    "no-cache, no-transform",
    "content-type",
    "text/event-stream; charset=utf-8",
    "x-accel-buffering",
    "no",
    "x-room",
    "lobby",
  ]);
  // Streams made with the same frozen headers share one list.
  expect(directResponse(eventStreamResponse(source(), { direct: true, headers: extra }))!.headers).toBe(direct.headers);
  expect(src.starts).toBe(0); // nothing runs before the mount attaches
  const out = sink();
  expect(direct.attach(out.sink)).toBeDefined();
  src.consumer!.push("live");
  expect(out.text()).toBe("retry: 1000\ndata: backlog\n\ndata: live\n\n");
  expect(direct.attach(out.sink)).toBeUndefined(); // once
});

test("a direct response's headers, read and changed before it is sent, are what the mount sends", () => {
  const response = eventStreamResponse(source(), { direct: true });
  expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
  response.headers.set("access-control-allow-origin", "https://app.example");
  expect(directResponse(response)!.headers).toContain("access-control-allow-origin");
});

test("a direct response read as a body becomes a real one: its events arrive through the ReadableStream", async () => {
  const src = source(["one"]);
  const response = eventStreamResponse(src, { direct: true });
  const events = parseEventStream(response.body!);
  expect(directResponse(response)).toBeUndefined(); // the mount must read the body now
  expect(response.bodyUsed).toBe(false);
  const seen: string[] = [];
  const reading = (async () => {
    for await (const event of events) seen.push(event.data);
  })();
  await vi.waitFor(() => expect(seen).toEqual(["one"]));
  src.consumer!.push("two");
  src.consumer!.end();
  await reading;
  expect(seen).toEqual(["one", "two"]);
  expect(src.starts).toBe(1);
});

test("a direct response the mount will not send frees its source; cloning one tees the real body", async () => {
  const dropped = source();
  directResponse(eventStreamResponse(dropped, { direct: true }))!.cancel();
  expect([dropped.starts, dropped.detached]).toEqual([1, 1]); // started against nothing, stopped at once
  const src = source(["x"]);
  const copy = eventStreamResponse(src, { direct: true }).clone();
  expect(copy).toBeInstanceOf(Response);
  const reader = copy.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: x\n\n");
  void reader.cancel(); // settles once the original's branch is cancelled too, which nobody does here
});

test("direct applies to push sources at the default status only; everything else is a real Response", () => {
  for (const response of [
    eventStreamResponse(["pulled"], { direct: true }),
    eventStreamResponse(source(), { direct: true, status: 201 }),
    eventStreamResponse(source(), { direct: true, statusText: "Streaming" }),
    eventStreamResponse(source()),
    new Response("plain"),
  ]) {
    expect(directResponse(response)).toBeUndefined();
    void response.body?.cancel();
  }
  expect(() => eventStreamResponse(source(), { direct: true, headers: { connection: "close" } })).toThrow(TypeError);
  expect(() => eventStreamResponse(source(), { direct: true, heartbeat: -1 })).toThrow(RangeError);
});
