/**
 * parseEventStream and EventStreamParser: iteration, early exit, abort, errors and the
 * maxEventSize bound. No sleeps: sources record what happened to them, and `vi.waitFor` has a
 * deadline.
 */
import { getEventListeners } from "node:events";
import { expect, test, vi } from "vitest";
import {
  createParser,
  EventStreamParser,
  EventStreamSizeError,
  parseEventStream,
  type ServerSentEvent,
} from "../core/mod.ts";
import { collect, message, streamOf } from "./_harness.ts";

const utf8 = new TextEncoder();

/** A byte source that records its pulls and its cancellation. `next(i)` gives chunk i, or null to close. */
function recordingSource(next: (index: number) => string | Uint8Array | null) {
  const record = { pulls: 0, cancelled: false, reason: undefined as unknown };
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = next(record.pulls++);
        if (chunk === null) controller.close();
        else controller.enqueue(typeof chunk === "string" ? utf8.encode(chunk) : chunk);
      },
      cancel(reason) {
        record.cancelled = true;
        record.reason = reason;
      },
    },
    { highWaterMark: 0 },
  );
  return { body, record };
}

/** Runs `iterate` and returns what it rejected with. */
async function rejection(iterate: () => Promise<unknown>): Promise<unknown> {
  try {
    await iterate();
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

test("parseEventStream yields the events of a body in order", async () => {
  const { body } = recordingSource((i) => ["id: 1\ndata: a\n", "\nevent: b\ndata: ", "c\n\ndata: d"][i] ?? null);
  expect(await collect(parseEventStream(body))).toEqual([
    message("a", "1"),
    { type: "b", data: "c", lastEventId: "1" },
  ]);
});

test("parseEventStream reports retry and comment lines through its options", async () => {
  const retries: number[] = [];
  const comments: string[] = [];
  const body = streamOf([utf8.encode(": hi\nretry: 300\ndata: a\n\n")]);
  const events = await collect(
    parseEventStream(body, { onRetry: (ms) => retries.push(ms), onComment: (text) => comments.push(text) }),
  );
  expect(events).toEqual([message("a")]);
  expect(retries).toEqual([300]);
  expect(comments).toEqual(["hi"]);
});

test("parseEventStream cancels the body when the loop breaks early", async () => {
  const { body, record } = recordingSource((i) => `data: ${i}\n\n`);
  const seen: ServerSentEvent[] = [];
  for await (const event of parseEventStream(body)) {
    seen.push(event);
    if (seen.length === 3) break;
  }
  expect(seen).toEqual([message("0"), message("1"), message("2")]);
  expect(record.cancelled).toBe(true);
  expect(record.pulls).toBe(3);
});

test("parseEventStream cancels the body when the loop throws", async () => {
  const { body, record } = recordingSource((i) => `data: ${i}\n\n`);
  const failure = new Error("consumer failed");
  const error = await rejection(async () => {
    for await (const _ of parseEventStream(body)) throw failure;
  });
  expect(error).toBe(failure);
  expect(record.cancelled).toBe(true);
});

test("parseEventStream ends the iteration and cancels the body when the signal aborts", async () => {
  const controller = new AbortController();
  const { body, record } = recordingSource((i) => `data: ${i}\n\n`);
  const seen: string[] = [];
  for await (const event of parseEventStream(body, { signal: controller.signal })) {
    seen.push(event.data);
    if (seen.length === 2) controller.abort(new Error("stop"));
  }
  expect(seen).toEqual(["0", "1"]);
  expect(record.cancelled).toBe(true);
  expect((record.reason as Error).message).toBe("stop");
});

test("parseEventStream ends a pending read when the signal aborts", async () => {
  const controller = new AbortController();
  let cancelled = false;
  // A body that sends one event and then nothing, ever.
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(utf8.encode("data: a\n\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const iterator = parseEventStream(body, { signal: controller.signal });
  expect(await iterator.next()).toEqual({ done: false, value: message("a") });
  const pending = iterator.next();
  controller.abort();
  expect(await pending).toEqual({ done: true, value: undefined });
  expect(cancelled).toBe(true);
});

test("parseEventStream yields nothing and cancels the body when the signal is already aborted", async () => {
  // A finite body, so a parser that ignored the signal would end (with events) rather than hang.
  const { body, record } = recordingSource((i) => (i < 3 ? `data: ${i}\n\n` : null));
  const events = await collect(parseEventStream(body, { signal: AbortSignal.abort() }));
  expect(events).toEqual([]);
  expect(record.cancelled).toBe(true);
});

test("parseEventStream removes its abort listener when the iteration ends", async () => {
  // One long-lived signal (say, server shutdown) shared by many parses must not collect listeners.
  const controller = new AbortController();
  for (let i = 0; i < 20; i++) {
    expect(
      await collect(parseEventStream(streamOf([utf8.encode("data: a\n\n")]), { signal: controller.signal })),
    ).toEqual([message("a")]);
  }
  for (let i = 0; i < 20; i++) {
    for await (const _ of parseEventStream(streamOf([utf8.encode("data: a\n\ndata: b\n\n")]), {
      signal: controller.signal,
    }))
      break;
  }
  expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
});

test("parseEventStream rejects with the body's error", async () => {
  const failure = new Error("network down");
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        if (pulls++ === 0) c.enqueue(utf8.encode("data: a\n\n"));
        else c.error(failure);
      },
    },
    { highWaterMark: 0 },
  );
  const seen: ServerSentEvent[] = [];
  const error = await rejection(async () => {
    for await (const event of parseEventStream(body)) seen.push(event);
  });
  expect(error).toBe(failure);
  expect(seen).toEqual([message("a")]);
});

test("parseEventStream rejects a body that is not a ReadableStream", () => {
  expect(() => parseEventStream(null as never)).toThrow(TypeError);
  expect(() => parseEventStream("data: a" as never)).toThrow('"body" must be a ReadableStream, received string');
});

test("parseEventStream fails with EventStreamSizeError on a line longer than maxEventSize, without unbounded reads", async () => {
  // An endless line: 1000 characters per chunk, never a line end.
  const { body, record } = recordingSource(() => "x".repeat(1000));
  const error = await rejection(() => collect(parseEventStream(body, { maxEventSize: 10_000 })));
  expect(error).toBeInstanceOf(EventStreamSizeError);
  expect(error).toBeInstanceOf(RangeError);
  const sizeError = error as EventStreamSizeError;
  expect(sizeError.type).toBe("max-event-size");
  expect(sizeError.limit).toBe(10_000);
  expect(sizeError.size).toBeGreaterThan(10_000);
  expect(sizeError.size).toBeLessThanOrEqual(11_000);
  expect(sizeError.message).toContain("pending line");
  expect(sizeError.message).toContain("maxEventSize 10000");
  // It stopped reading once past the bound, and released the body.
  expect(record.pulls).toBeLessThanOrEqual(12);
  expect(record.cancelled).toBe(true);
  expect(record.reason).toBe(error);
});

test("parseEventStream fails with EventStreamSizeError on a multi-line event larger than maxEventSize", async () => {
  // An endless event: short data lines, never a blank line.
  const { body, record } = recordingSource(() => "data: " + "y".repeat(94) + "\n");
  const error = await rejection(() => collect(parseEventStream(body, { maxEventSize: 10_000 })));
  expect(error).toBeInstanceOf(EventStreamSizeError);
  const sizeError = error as EventStreamSizeError;
  expect(sizeError.type).toBe("max-event-size");
  expect(sizeError.message).toContain("pending event");
  expect(sizeError.size).toBeGreaterThan(10_000);
  expect(record.pulls).toBeLessThanOrEqual(110);
  expect(record.cancelled).toBe(true);
});

test("parseEventStream bounds each pending line and event, not the whole stream", async () => {
  // 200 events of 500 characters each: 100 000 characters in all, 1000 at most at a time.
  const { body } = recordingSource((i) => (i < 200 ? `: ${"c".repeat(400)}\ndata: ${"z".repeat(500)}\n\n` : null));
  const events = await collect(parseEventStream(body, { maxEventSize: 1000 }));
  expect(events).toHaveLength(200);
  expect(events.every((event) => event.data.length === 500)).toBe(true);
});

test("parseEventStream ends after a size error", async () => {
  const { body } = recordingSource(() => "x".repeat(100));
  const iterator = parseEventStream(body, { maxEventSize: 150 });
  await expect(iterator.next()).rejects.toBeInstanceOf(EventStreamSizeError);
  expect(await iterator.next()).toEqual({ done: true, value: undefined });
});

test("EventStreamParser turns byte and text chunks into events", async () => {
  const retries: number[] = [];
  const comments: string[] = [];
  const chunks: (Uint8Array | string)[] = [utf8.encode("\ufeffretry: 5\nid: 9\r"), "\ndata: a\n", ":c\n\ndata: b"];
  const events = await collect(
    streamOf(chunks).pipeThrough(
      new EventStreamParser({ onRetry: (ms) => retries.push(ms), onComment: (text) => comments.push(text) }),
    ),
  );
  // The unterminated last event is discarded.
  expect(events).toEqual([message("a", "9")]);
  expect(retries).toEqual([5]);
  expect(comments).toEqual(["c"]);
});

test("EventStreamParser errors the stream with EventStreamSizeError and cancels the source", async () => {
  const { body, record } = recordingSource(() => "data: " + "y".repeat(94) + "\n");
  const reader = body.pipeThrough(new EventStreamParser({ maxEventSize: 5_000 })).getReader();
  const error = await rejection(() => reader.read());
  expect(error).toBeInstanceOf(EventStreamSizeError);
  expect((error as EventStreamSizeError).type).toBe("max-event-size");
  await vi.waitFor(() => expect(record.cancelled).toBe(true), { timeout: 2000, interval: 5 });
  expect(record.pulls).toBeLessThanOrEqual(60);
});

test("EventStreamParser rejects a maxEventSize that is not a positive number", () => {
  expect(() => new EventStreamParser({ maxEventSize: 0 })).toThrow(RangeError);
});

test("createParser throws EventStreamSizeError past maxEventSize, then starts afresh", () => {
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (event) => events.push(event), maxEventSize: 8 });
  parser.feed("data: 12");
  expect(() => parser.feed("3456789")).toThrow(EventStreamSizeError);
  // The parser was reset: the rest of the oversized line is not glued onto the next one.
  parser.feed("data: ok\n\n");
  expect(events).toEqual([message("ok")]);
  expect(() => parser.feed("data: 1234\ndata: 5678\n")).toThrow(
    /pending event holds 9 characters, over maxEventSize 8/,
  );
});

test("EventStreamParser is a TransformStream whose sides work by hand: write, close, read", async () => {
  const parser = new EventStreamParser();
  expect(parser).toBeInstanceOf(TransformStream);
  const writer = parser.writable.getWriter();
  const reader = parser.readable.getReader();
  const written = (async () => {
    await writer.write(utf8.encode("data: a\n\nid: 7\n"));
    await writer.write("data: b\n\ndata: unterminated");
    await writer.close();
  })();
  expect(await reader.read()).toEqual({ done: false, value: message("a") });
  expect(await reader.read()).toEqual({ done: false, value: message("b", "7") });
  expect(await reader.read()).toEqual({ done: true, value: undefined });
  await written;
});

test("EventStreamParser reads no further than its reader asks: a write waits until the events are read", async () => {
  const { body, record } = recordingSource((i) => (i < 1000 ? `data: ${i}\n\n` : null));
  const reader = body.pipeThrough(new EventStreamParser()).getReader();
  expect(await reader.read()).toEqual({ done: false, value: message("0") });
  // Give the pipe every chance to run ahead.
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setTimeout(resolve, 0));
  expect(record.pulls).toBeLessThanOrEqual(4);
  expect(await reader.read()).toEqual({ done: false, value: message("1") });
  await reader.cancel();
});

test("EventStreamParser cancels its source when the reader cancels, with the reason", async () => {
  const { body, record } = recordingSource(() => "data: x\n\n");
  const reader = body.pipeThrough(new EventStreamParser()).getReader();
  await reader.read();
  const reason = new Error("enough");
  await reader.cancel(reason);
  await vi.waitFor(() => expect(record.cancelled).toBe(true), { timeout: 2000, interval: 5 });
  expect(record.reason).toBe(reason);
});

test("EventStreamParser cancels its source when a for-await loop breaks", async () => {
  const { body, record } = recordingSource((i) => `data: ${i}\n\n`);
  const seen: string[] = [];
  for await (const event of body.pipeThrough(new EventStreamParser())) {
    seen.push(event.data);
    if (seen.length === 3) break;
  }
  expect(seen).toEqual(["0", "1", "2"]);
  await vi.waitFor(() => expect(record.cancelled).toBe(true), { timeout: 2000, interval: 5 });
});

test("EventStreamParser errors its readable side when the source fails", async () => {
  const failure = new Error("connection reset");
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls++ === 0) controller.enqueue(utf8.encode("data: a\n\ndata: b"));
      else controller.error(failure);
    },
  });
  const reader = body.pipeThrough(new EventStreamParser()).getReader();
  expect(await reader.read()).toEqual({ done: false, value: message("a") });
  expect(await rejection(() => reader.read())).toBe(failure);
});

test("EventStreamParser delivers every event of a chunk before the next chunk is parsed", async () => {
  // One chunk with many events, read one at a time: none is lost or reordered, and a size error
  // in a later chunk comes only after them.
  const events = Array.from({ length: 300 }, (_, i) => `data: ${i}\n\n`).join("");
  const chunks = [utf8.encode(events), utf8.encode(`data: ${"x".repeat(100)}`)];
  const reader = streamOf(chunks)
    .pipeThrough(new EventStreamParser({ maxEventSize: 50 }))
    .getReader();
  for (let i = 0; i < 300; i++) expect((await reader.read()).value?.data).toBe(String(i));
  expect(await rejection(() => reader.read())).toBeInstanceOf(EventStreamSizeError);
});
