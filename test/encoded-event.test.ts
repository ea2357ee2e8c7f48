/**
 * EncodedEvent (encode once, send to many) and the stream machinery's per-stream costs: streams
 * send an EncodedEvent's frame without encoding it again, and a busy stream with heartbeats
 * keeps at most one timer.
 */
import { afterEach, expect, test, vi } from "vitest";
import { EncodedEvent, EventStreamEncoder, encodeEvent, parseEventStream, toEventStream } from "../core/mod.ts";

const text = async (stream: ReadableStream<Uint8Array>) => new Response(stream).text();

afterEach(() => {
  vi.useRealTimers();
});

test("EncodedEvent holds encodeEvent's frame and the message's fields, frozen", () => {
  const message = { event: "chat", id: "7", data: "two\nlines", retry: 0 };
  const encoded = new EncodedEvent(message);
  expect(encoded.frame).toBe(encodeEvent(message));
  expect({ ...encoded }).toEqual(message); // the frame is not enumerable: a copy is a plain message
  expect(Object.isFrozen(encoded)).toBe(true);
  expect(() => ((encoded as { data?: string }).data = "x")).toThrow(TypeError);
});

test("with keepData: false it holds the frame only and reads data back from it", () => {
  const cases: [string | undefined, string | undefined][] = [
    ['{"text":"안녕 😀"}', '{"text":"안녕 😀"}'],
    ["two\nlines\n", "two\nlines\n"],
    ["cr\rand\r\ncrlf", "cr\nand\ncrlf"], // as a client receives it
    ["", ""],
    ["data: inside", "data: inside"],
    [undefined, undefined],
  ];
  for (const [data, readBack] of cases) {
    const message = data === undefined ? { id: "1", event: "e" } : { id: "1", event: "e", data };
    const lean = new EncodedEvent(message, { keepData: false });
    expect(lean.frame).toBe(encodeEvent(message));
    expect(Object.hasOwn(lean, "data")).toBe(false);
    expect(lean.data).toBe(readBack);
    expect({ ...lean }).toEqual({ id: "1", event: "e" });
    expect(Object.isFrozen(lean)).toBe(true);
  }
  // The default keeps the copy, as an own field.
  expect(Object.hasOwn(new EncodedEvent({ data: "x" }), "data")).toBe(true);
  expect(new EncodedEvent({ data: "x" }, { keepData: true }).data).toBe("x");
});

test("EncodedEvent rejects what encodeEvent rejects, at construction", () => {
  expect(() => new EncodedEvent({ event: "a\nb" })).toThrow(TypeError);
  expect(() => new EncodedEvent({ retry: -1 })).toThrow(RangeError);
});

test("toEventStream sends an EncodedEvent's frame without reading its fields again", async () => {
  // Same prototype, a valid frame, and fields that throw if anything tries to re-encode them.
  const poisoned = Object.create(EncodedEvent.prototype, {
    frame: { value: "id: 1\ndata: sent as is\n\n" },
    data: {
      get: () => {
        throw new Error("re-encoded");
      },
      enumerable: true,
    },
  }) as EncodedEvent;
  expect(await text(toEventStream([poisoned]))).toBe("id: 1\ndata: sent as is\n\n");
  expect(
    await text(
      toEventStream(
        (async function* () {
          yield poisoned;
        })(),
      ),
    ),
  ).toBe("id: 1\ndata: sent as is\n\n");
  const encoder = new EventStreamEncoder();
  const written = encoder.writable.getWriter();
  void written.write(poisoned);
  void written.close();
  expect(await text(encoder.readable)).toBe("id: 1\ndata: sent as is\n\n");
});

test("toEventStream delivers one EncodedEvent shared by many streams to each of them", async () => {
  const shared = new EncodedEvent({ id: "42", event: "news", data: "hello" });
  const results = await Promise.all(
    Array.from({ length: 5 }, async () => {
      const events = [];
      for await (const event of parseEventStream(toEventStream([shared, "after"]))) events.push(event);
      return events;
    }),
  );
  for (const events of results) {
    expect(events).toEqual([
      { type: "news", data: "hello", lastEventId: "42" },
      { type: "message", data: "after", lastEventId: "42" },
    ]);
  }
});

test("toEventStream keeps at most one heartbeat timer however many messages a busy stream sends", async () => {
  vi.useFakeTimers();
  let push!: (value: string) => void;
  const source = {
    [Symbol.asyncIterator]() {
      return this;
    },
    next: () => new Promise<IteratorResult<string>>((resolve) => (push = (value) => resolve({ done: false, value }))),
  };
  const reader = toEventStream(source, { heartbeat: 1000 }).getReader();
  const armed = vi.spyOn(globalThis, "setTimeout");
  let maxTimers = 0;
  for (let i = 0; i < 200; i++) {
    const read = reader.read();
    await vi.advanceTimersByTimeAsync(1); // the pull is now waiting on the idle source
    maxTimers = Math.max(maxTimers, vi.getTimerCount());
    push(`m${i}`);
    expect(new TextDecoder().decode((await read).value)).toBe(`data: m${i}\n\n`);
  }
  expect(maxTimers).toBe(1);
  expect(armed.mock.calls.length).toBe(1); // 200 messages in 200 ms: one timer, never re-armed
  // And once the source stays idle, heartbeats still come, one per period.
  const idle = reader.read();
  await vi.advanceTimersByTimeAsync(2000);
  expect(new TextDecoder().decode((await idle).value)).toBe(":\n");
  await reader.cancel();
  expect(vi.getTimerCount()).toBe(0);
});
