/**
 * defineEvents: a stream's event types declared once, encoded on one end and decoded on the
 * other. Runtime-neutral (core/ only), so it also runs under Bun and Deno (test/runtimes.test.ts).
 * The `@ts-expect-error` lines are checked by `tsc`: a payload that does not fit its type must not
 * compile.
 */
import { describe, expect, expectTypeOf, test } from "vitest";
import { defineEvents, type EventCodec, encodeEvent, json, parseEventStream, toEventStream } from "../core/mod.ts";

const feed = defineEvents({
  message: json<{ text: string }>(),
  price: json<{ symbol: string; cents: number }>(),
  count: { encode: (n: number) => String(n), decode: (data: string) => Number(data) } satisfies EventCodec<number>,
});

async function receive(stream: ReadableStream<Uint8Array>) {
  const events = [];
  for await (const event of parseEventStream(stream)) events.push(event);
  return events;
}

describe("defineEvents", () => {
  test("what the server encodes, the client decodes to the same payload and type", async () => {
    const sent = [
      feed.encode("message", { text: "안녕\n세상" }, { id: "1" }),
      feed.encode("price", { symbol: "EDY", cents: 4200 }),
      feed.encode("count", 3, { retry: 1000 }),
    ];
    const received = (await receive(toEventStream(sent))).map((event) => feed.decode(event));
    expect(received).toEqual([
      { type: "message", data: { text: "안녕\n세상" }, lastEventId: "1" },
      { type: "price", data: { symbol: "EDY", cents: 4200 }, lastEventId: "1" },
      { type: "count", data: 3, lastEventId: "1" },
    ]);
  });

  test("the default type `message` is framed without an event: line, as the spec dispatches it", () => {
    expect(encodeEvent(feed.encode("message", { text: "hi" }))).toBe('data: {"text":"hi"}\n\n');
    expect(encodeEvent(feed.encode("price", { symbol: "A", cents: 1 }, { id: "9" }))).toBe(
      'event: price\nid: 9\ndata: {"symbol":"A","cents":1}\n\n',
    );
  });

  test("decode narrows data by type", () => {
    const event = feed.decode({ type: "price", data: '{"symbol":"A","cents":1}', lastEventId: "" });
    if (event?.type === "price") expectTypeOf(event.data).toEqualTypeOf<{ symbol: string; cents: number }>();
    if (event?.type === "count") expectTypeOf(event.data).toEqualTypeOf<number>();
    expect(event?.type).toBe("price");
    expectTypeOf(feed.names).toEqualTypeOf<readonly ("message" | "price" | "count")[]>();
    expect(feed.names).toEqual(["message", "price", "count"]);
  });

  test("a payload that does not fit its declared type does not compile", () => {
    // @ts-expect-error cents must be a number
    expect(() => feed.encode("price", { symbol: "A", cents: "1" })).not.toThrow();
    // @ts-expect-error an undeclared type
    expect(() => feed.encode("volume", 1)).toThrow(new TypeError('encode: "volume" is not a declared event type'));
  });

  test("an undeclared type decodes to undefined (a newer server may send more); bad data throws naming the type", () => {
    expect(feed.decode({ type: "volume", data: "1", lastEventId: "" })).toBeUndefined();
    expect(() => feed.decode({ type: "price", data: "{not json", lastEventId: "" })).toThrow(
      /^decode: the data of a "price" event does not decode: /,
    );
  });

  test("json's check runs on every decoded value", () => {
    const checked = defineEvents({ tick: json<{ n: number }>((v) => typeof (v as { n?: unknown }).n === "number") });
    expect(checked.decode({ type: "tick", data: '{"n":1}', lastEventId: "" })?.data).toEqual({ n: 1 });
    expect(() => checked.decode({ type: "tick", data: '{"n":"1"}', lastEventId: "" })).toThrow(TypeError);
  });

  test("bad declarations are refused with a precise TypeError", () => {
    expect(() => defineEvents({ "": json() })).toThrow(/"" is not an event type/);
    expect(() => defineEvents({ "a\nb": json() })).toThrow(/"a\\nb" is not an event type/);
    // @ts-expect-error not a codec
    expect(() => defineEvents({ tick: {} })).toThrow(/"tick" needs a codec with encode and decode/);
    // @ts-expect-error not an object
    expect(() => defineEvents(null)).toThrow(/"schema" must be an object, received null/);
    // @ts-expect-error not a function
    expect(() => json(1)).toThrow(/"check" must be a function, received number/);
  });
});
