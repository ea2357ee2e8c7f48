/**
 * One test per rule of the WHATWG event stream parsing and interpretation algorithm. Each
 * expectation is written out by hand and checked against both `createParser` and the spec
 * transcription in `_spec-parser.ts`, so the oracle the property tests rely on is pinned too.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 */
import { expect, test } from "vitest";
import { createParser, DEFAULT_MAX_EVENT_SIZE, type ServerSentEvent } from "../core/mod.ts";
import { message, runPush, type PushObserved } from "./_harness.ts";
import { specParse } from "./_spec-parser.ts";

const utf8 = new TextEncoder();

/** Parses `input` (text is UTF-8 encoded first) with both parsers; each must match `expected`. */
function check(input: string | Uint8Array, expected: Partial<PushObserved>): void {
  const bytes = typeof input === "string" ? utf8.encode(input) : input;
  const ours = runPush([bytes]);
  const spec = specParse(bytes);
  for (const key of Object.keys(expected) as (keyof PushObserved)[]) {
    expect(ours[key], `createParser ${key}`).toEqual(expected[key]);
    expect(spec[key], `spec transcription ${key}`).toEqual(expected[key]);
  }
}

const event = (type: string, data: string, lastEventId = ""): ServerSentEvent => ({ type, data, lastEventId });

test("createParser decodes UTF-8, replacing each invalid sequence with U+FFFD", () => {
  // "é" (C3 A9), a stray continuation byte, a truncated 3-byte sequence, an encoded surrogate.
  const bytes = Uint8Array.from([
    ...utf8.encode("data: é"),
    0x80,
    0x41,
    0xe2,
    0x82,
    0x42,
    0xed,
    0xa0,
    0x80,
    0x0a,
    0x0a,
  ]);
  check(bytes, { events: [message("é\ufffdA\ufffdB\ufffd\ufffd\ufffd")] });
});

test("createParser strips exactly one leading BOM", () => {
  check("\ufeffdata: a\n\n", { events: [message("a")] });
  // A second BOM is content: it becomes part of the field name, so the line is an unknown field.
  check("\ufeff\ufeffdata: a\n\ndata: b\n\n", { events: [message("b")] });
});

test("createParser keeps a U+FEFF that is not at the very start of the stream", () => {
  check("data: a\n\n\ufeffdata: b\n\ndata: \ufeffc\ufeff\n\n", { events: [message("a"), message("\ufeffc\ufeff")] });
});

test("createParser strips a leading BOM from text input too", () => {
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed("");
  parser.feed("\ufeffdata: a\n\n\ufeffdata: b\n\n");
  expect(events).toEqual([message("a")]);
});

test("createParser ends lines at LF", () => {
  check("data: a\ndata: b\n\n", { events: [message("a\nb")] });
});

test("createParser ends lines at CRLF, one line end rather than two", () => {
  // Were CRLF two line ends, "data: a\r\n" would dispatch "a" on its own.
  check("data: a\r\ndata: b\r\n\r\n", { events: [message("a\nb")] });
});

test("createParser ends lines at a lone CR", () => {
  check("data: a\rdata: b\r\rdata: c\r\r", { events: [message("a\nb"), message("c")] });
});

test("createParser ends lines at LF CR as two line ends", () => {
  // LF then CR is not a pair: the CR ends a second, empty line, which dispatches.
  check("data: a\n\r", { events: [message("a")] });
});

test("createParser treats a CR as the last byte of the stream as a line end", () => {
  check("data: a\n\r", { events: [message("a")] });
  check("data: a\r\r", { events: [message("a")] });
  check("retry: 7\r", { retries: [7] });
});

test("createParser ignores comment lines and reports them with one leading space removed", () => {
  check(":\n: hello\n:  two spaces\n:data: x\ndata: y\n\n", {
    events: [message("y")],
    comments: ["", "hello", " two spaces", "data: x"],
  });
});

test("createParser removes exactly one leading space from a value", () => {
  check("data:a\n\ndata: b\n\ndata:  c\n\ndata:\td\n\n", {
    events: [message("a"), message("b"), message(" c"), message("\td")],
  });
});

test("createParser splits a field at the first colon only", () => {
  check("data: a: b:c\n\nevent:x:y\ndata\n\n", { events: [message("a: b:c"), event("x:y", "")] });
});

test("createParser takes a line with no colon as a field with an empty value", () => {
  check("data\n\ndata\ndata\n\n", { events: [message(""), message("\n")] });
  // "event" alone resets the type; "id" alone resets the last event ID.
  check("id: 5\nevent: x\nevent\ndata: a\n\nid\ndata: b\n\n", { events: [message("a", "5"), message("b", "")] });
});

test("createParser appends each data value and a LF to the data buffer", () => {
  check("data: one\ndata:\ndata: three\n\n", { events: [message("one\n\nthree")] });
});

test("createParser removes only the final LF of the data buffer at dispatch", () => {
  check("data:\n\n", { events: [message("")] });
  check("data:\ndata:\n\n", { events: [message("\n")] });
  check("data: a\ndata:\n\n", { events: [message("a\n")] });
});

test("createParser dispatches nothing when the data buffer is empty", () => {
  check("\n\n\nevent: x\n\nid: 1\n\nretry: 5\n\n: c\n\n", { events: [], lastEventId: "1", retries: [5] });
});

test("createParser resets the event type after a block without data", () => {
  // The `event:` of the data-less block must not leak into the next event.
  check("event: ignored\n\ndata: a\n\n", { events: [message("a")] });
  check("event: x\ndata: a\n\ndata: b\n\n", { events: [event("x", "a"), message("b")] });
});

test("createParser sets the type from the event field and defaults to message", () => {
  check("data: a\n\nevent: price\ndata: b\n\n", { events: [message("a"), event("price", "b")] });
});

test("createParser resets the type to message on an empty event value", () => {
  check("event: x\nevent:\ndata: a\n\nevent: y\nevent: \ndata: b\n\n", { events: [message("a"), message("b")] });
});

test("createParser uses the last event field of a block, wherever it appears", () => {
  check("event: a\ndata: 1\nevent: b\n\n", { events: [event("b", "1")] });
});

test("createParser keeps spaces and unusual characters in the event type", () => {
  check("event:  spaced \ndata: a\n\nevent: \u0000\u00e9\ndata: b\n\n", {
    events: [event(" spaced ", "a"), event("\u0000é", "b")],
  });
});

test("createParser sets the last event ID from the id field", () => {
  check("id: 42\ndata: a\n\n", { events: [message("a", "42")], lastEventId: "42" });
});

test("createParser ignores an id whose value contains U+0000", () => {
  check("id: 1\n\nid: 2\u00003\ndata: a\n\nid: \u0000\ndata: b\n\n", {
    events: [message("a", "1"), message("b", "1")],
    lastEventId: "1",
  });
});

test("createParser sets the last event ID in a block that carries no data", () => {
  check("id: 7\n\ndata: a\n\n", { events: [message("a", "7")], lastEventId: "7" });
});

test("createParser keeps the last event ID across events", () => {
  check("id: 1\ndata: a\n\ndata: b\n\nevent: x\ndata: c\n\n", {
    events: [message("a", "1"), message("b", "1"), event("x", "c", "1")],
  });
});

test("createParser resets the last event ID on an empty id value", () => {
  check("id: 1\ndata: a\n\nid:\ndata: b\n\nid: 2\n\nid: \ndata: c\n\n", {
    events: [message("a", "1"), message("b", ""), message("c", "")],
    lastEventId: "",
  });
});

test("createParser takes the id value after one space, keeping the rest", () => {
  check("id:  x \ndata: a\n\n", { events: [message("a", " x ")] });
});

test("createParser applies retry when its line is processed, before the block is dispatched", () => {
  const log: string[] = [];
  const parser = createParser({
    onEvent: (e) => log.push(`event ${e.data}`),
    onRetry: (ms) => log.push(`retry ${ms}`),
  });
  parser.feed("data: a\nretry: 1500\n");
  expect(log).toEqual(["retry 1500"]);
  parser.feed("\n");
  expect(log).toEqual(["retry 1500", "event a"]);
  // Even a block that never dispatches (it is discarded at the end of the stream) applies it.
  parser.feed("data: b\nretry: 0\n");
  parser.end();
  expect(log).toEqual(["retry 1500", "event a", "retry 0"]);
});

test("createParser applies retry only when its value is non-empty ASCII digits", () => {
  check(
    "retry: 10\nretry: 0\nretry: 007\nretry:\nretry: \nretry: -1\nretry: 1.5\nretry: 1e3\nretry: 12a\nretry: +3\nretry:  4\nretry: \u0661\nretry\n\n",
    {
      retries: [10, 0, 7],
      events: [],
    },
  );
});

test("createParser ignores unknown fields", () => {
  check("foo: bar\ndata: a\nretryx: 1\nids: 9\nevents: y\n: c\nx\n\n", { events: [message("a")], retries: [] });
});

test("createParser compares field names case-sensitively", () => {
  check("Data: a\nDATA: b\nEvent: x\nID: 3\nRetry: 4\ndata: c\n\n", {
    events: [message("c")],
    retries: [],
    lastEventId: "",
  });
});

test("createParser does not trim a field name", () => {
  check("data : a\n data: b\ndata: c\n\n", { events: [message("c")] });
});

test("createParser discards an unterminated event at the end of the stream", () => {
  check("data: a\n\ndata: b\n", { events: [message("a")] });
  check("data: a\n\nevent: x\ndata: b\r", { events: [message("a")] });
});

test("createParser discards an unterminated last line at the end of the stream", () => {
  check("retry: 5", { retries: [] });
  check("data: a\n\nid: 9", { events: [message("a")], lastEventId: "" });
});

test("createParser dispatches the events complete in a chunk before feed returns", () => {
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed("data: a\n\ndata: b\n");
  expect(events).toEqual([message("a")]);
  parser.feed("\n");
  expect(events).toEqual([message("a"), message("b")]);
});

test("createParser lastEventId changes only when a block is dispatched", () => {
  // The spec's "last event ID string", which a reconnecting EventSource sends, is set at
  // dispatch time. An id whose block never completed names an event the client never got.
  const parser = createParser({ onEvent() {} });
  parser.feed("id: 1\ndata: a\n\n");
  expect(parser.lastEventId).toBe("1");
  parser.feed("id: 2\ndata: b\n");
  expect(parser.lastEventId).toBe("1");
  parser.end();
  expect(parser.lastEventId).toBe("1");
});

test("createParser keeps the last event ID across end() and forgets it on reset()", () => {
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed("id: 1\ndata: a\n\nid: 2\ndata: lost\n");
  parser.end();
  // A new connection: the next event carries the id of the last event that was delivered.
  parser.feed("data: b\n\n");
  expect(events).toEqual([message("a", "1"), message("b", "1")]);
  parser.reset();
  expect(parser.lastEventId).toBe("");
  parser.feed("data: c\n\n");
  expect(events.at(-1)).toEqual(message("c", ""));
});

test("createParser reset() discards a partial line, event and decoder state", () => {
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed(Uint8Array.from([...utf8.encode("event: x\ndata: a"), 0xc3]));
  parser.reset();
  parser.feed("\ufeffdata: b\n\n");
  expect(events).toEqual([message("b")]);
});

test("createParser rejects callbacks without an onEvent function", () => {
  expect(() => createParser({} as never)).toThrow(TypeError);
  expect(() => createParser({} as never)).toThrow('"onEvent" must be a function');
  expect(() => createParser((() => {}) as never)).toThrow("did you mean createParser({ onEvent: fn })?");
});

test("createParser rejects a maxEventSize that is not a positive number", () => {
  for (const bad of [0, -1, Number.NaN, "10"]) {
    expect(() => createParser({ onEvent() {}, maxEventSize: bad as number })).toThrow(RangeError);
    expect(() => createParser({ onEvent() {}, maxEventSize: bad as number })).toThrow(
      '"maxEventSize" must be a positive number',
    );
  }
  expect(DEFAULT_MAX_EVENT_SIZE).toBe(16 * 1024 * 1024);
});
