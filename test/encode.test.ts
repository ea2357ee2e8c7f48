/**
 * One test per encoder rule, every rejection included, with the exact frames written out. Frames
 * that must round-trip are also read back with the spec transcription (not with our parser).
 */
import { expect, test } from "vitest";
import { encodeComment, encodeData, encodeEvent, type EventMessage } from "../core/mod.ts";
import { specParse, specParseText } from "./_spec-parser.ts";

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The events the spec would dispatch for `frame`. */
const readBack = (frame: string) => specParseText(frame).events;

/** Calls `encodeEvent(message)` and returns what it threw. */
function thrown(message: unknown): Error {
  try {
    encodeEvent(message as EventMessage);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`encodeEvent accepted ${JSON.stringify(message)}`);
}

test("encodeEvent writes data as a data line followed by a blank line", () => {
  expect(encodeEvent({ data: "hello" })).toBe("data: hello\n\n");
  expect(readBack("data: hello\n\n")).toEqual([{ type: "message", data: "hello", lastEventId: "" }]);
});

test("encodeEvent writes each line of data as its own data line", () => {
  const frame = encodeEvent({ data: "one\ntwo\nthree" });
  expect(frame).toBe("data: one\ndata: two\ndata: three\n\n");
  expect(readBack(frame)).toEqual([{ type: "message", data: "one\ntwo\nthree", lastEventId: "" }]);
});

test("encodeEvent turns CR, LF and CRLF in data each into one line break", () => {
  const frame = encodeEvent({ data: "a\rb\nc\r\nd" });
  expect(frame).toBe("data: a\ndata: b\ndata: c\ndata: d\n\n");
  expect(readBack(frame)[0]!.data).toBe("a\nb\nc\nd");
});

test("encodeEvent counts CRLF in data as one line break, not two", () => {
  expect(encodeEvent({ data: "a\r\nb" })).toBe("data: a\ndata: b\n\n");
  // LF CR is two breaks, and so is CR CR.
  expect(encodeEvent({ data: "a\n\rb" })).toBe("data: a\ndata: \ndata: b\n\n");
  expect(encodeEvent({ data: "a\r\rb" })).toBe("data: a\ndata: \ndata: b\n\n");
});

test("encodeEvent keeps empty data, blank lines and trailing line breaks", () => {
  expect(encodeEvent({ data: "" })).toBe("data: \n\n");
  expect(readBack("data: \n\n")).toEqual([{ type: "message", data: "", lastEventId: "" }]);
  const frame = encodeEvent({ data: "\na\n\nb\n" });
  expect(frame).toBe("data: \ndata: a\ndata: \ndata: b\ndata: \n\n");
  expect(readBack(frame)[0]!.data).toBe("\na\n\nb\n");
});

test("encodeEvent keeps leading spaces in data", () => {
  // The parser removes exactly one space after the colon: the one the encoder always writes.
  const frame = encodeEvent({ data: " one\n  two" });
  expect(frame).toBe("data:  one\ndata:   two\n\n");
  expect(readBack(frame)[0]!.data).toBe(" one\n  two");
});

test("encodeEvent keeps field-looking text and colons in data", () => {
  const frame = encodeEvent({ data: "data: x\nevent: y\n: z\nid: 1\n\nretry: 9" });
  expect(frame).toBe("data: data: x\ndata: event: y\ndata: : z\ndata: id: 1\ndata: \ndata: retry: 9\n\n");
  expect(specParseText(frame)).toEqual({
    events: [{ type: "message", data: "data: x\nevent: y\n: z\nid: 1\n\nretry: 9", lastEventId: "" }],
    retries: [],
    comments: [],
    lastEventId: "",
  });
});

test("encodeEvent leaves lone surrogates to the UTF-8 encoder, which writes U+FFFD", () => {
  const frame = encodeEvent({ data: "a\ud800b\udc00c\ud83d\ude00" });
  const bytes = utf8.encode(frame);
  // The bytes are valid UTF-8 (a fatal decoder accepts them) with U+FFFD for each lone surrogate.
  expect(strictUtf8.decode(bytes)).toBe("data: a\ufffdb\ufffdc😀\n\n");
  expect(specParse(bytes).events[0]!.data).toBe("a\ufffdb\ufffdc😀");
});

test("encodeEvent writes the event type as an event line", () => {
  expect(encodeEvent({ event: "price", data: "1" })).toBe("event: price\ndata: 1\n\n");
  expect(readBack("event: price\ndata: 1\n\n")[0]!.type).toBe("price");
});

test("encodeEvent writes an empty event type", () => {
  expect(encodeEvent({ event: "", data: "a" })).toBe("event: \ndata: a\n\n");
});

test("encodeEvent rejects an event type containing CR or LF with a TypeError naming the field", () => {
  for (const event of ["a\nb", "a\rb", "a\r\nb", "\n", "x\r"]) {
    const error = thrown({ event, data: "x" });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      `Cannot encode event: "event" cannot contain a line break (CR or LF), received ${JSON.stringify(event)}`,
    );
  }
});

test("encodeEvent writes the id as an id line", () => {
  expect(encodeEvent({ id: "42", data: "a" })).toBe("id: 42\ndata: a\n\n");
  expect(readBack("id: 42\ndata: a\n\n")[0]!.lastEventId).toBe("42");
});

test("encodeEvent writes an empty id, which resets the client's last event ID", () => {
  const frame = encodeEvent({ id: "" });
  expect(frame).toBe("id: \n\n");
  expect(specParseText("id: 5\n\n" + frame + "data: a\n\n").events).toEqual([
    { type: "message", data: "a", lastEventId: "" },
  ]);
});

test("encodeEvent writes nothing for an absent id", () => {
  expect(encodeEvent({ data: "a" })).not.toContain("id");
  expect(encodeEvent({ id: undefined, data: "a" })).toBe("data: a\n\n");
});

test("encodeEvent rejects an id containing CR or LF with a TypeError naming the field", () => {
  for (const id of ["1\n2", "1\r2", "1\r\n", "\r"]) {
    const error = thrown({ id });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(
      `Cannot encode event: "id" cannot contain a line break (CR or LF), received ${JSON.stringify(id)}`,
    );
  }
});

test("encodeEvent rejects an id containing NUL with a TypeError that says why", () => {
  for (const id of ["\0", "a\0b"]) {
    const error = thrown({ id, data: "x" });
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(`Cannot encode event: "id" cannot contain NUL (U+0000), received ${JSON.stringify(id)}`);
  }
});

test("encodeEvent writes retry, 0 included", () => {
  expect(encodeEvent({ retry: 0 })).toBe("retry: 0\n");
  expect(encodeEvent({ retry: 2500, data: "a" })).toBe("retry: 2500\ndata: a\n\n");
  expect(encodeEvent({ retry: Number.MAX_SAFE_INTEGER })).toBe("retry: 9007199254740991\n");
  expect(specParseText("retry: 0\n").retries).toEqual([0]);
});

test("encodeEvent rejects a retry that is not a non-negative integer with a RangeError", () => {
  const cases: [unknown, string][] = [
    [-1, "number -1"],
    [1.5, "number 1.5"],
    [Number.NaN, "number NaN"],
    [Number.POSITIVE_INFINITY, "number Infinity"],
    [2 ** 53, "number 9007199254740992"],
    ["5", '"5"'],
    [null, "null"],
    [5n, "bigint 5"],
  ];
  for (const [retry, described] of cases) {
    const error = thrown({ retry });
    expect(error).toBeInstanceOf(RangeError);
    expect(error.message).toBe(
      `Cannot encode event: "retry" must be a non-negative safe integer of milliseconds, received ${described}`,
    );
  }
});

test("encodeEvent writes a comment as one colon line per line", () => {
  expect(encodeEvent({ comment: "hello" })).toBe(": hello\n");
  const frame = encodeEvent({ comment: "a\nb\r\nc\rd\n\ne" });
  expect(frame).toBe(": a\n: b\n: c\n: d\n: \n: e\n");
  expect(specParseText(frame)).toEqual({
    events: [],
    retries: [],
    comments: ["a", "b", "c", "d", "", "e"],
    lastEventId: "",
  });
});

test("encodeEvent writes an empty comment as a bare colon line", () => {
  expect(encodeEvent({ comment: "" })).toBe(":\n");
});

test("encodeEvent ends a comment-only or retry-only message with its line terminator, not a blank line", () => {
  expect(encodeEvent({ comment: "c" })).toBe(": c\n");
  expect(encodeEvent({ retry: 10 })).toBe("retry: 10\n");
  expect(encodeEvent({ comment: "c", retry: 10 })).toBe(": c\nretry: 10\n");
  // So they can precede the next message without dispatching or resetting anything.
  expect(specParseText(encodeEvent({ comment: "c" }) + "event: x\n" + "data: a\n\n").events).toEqual([
    { type: "x", data: "a", lastEventId: "" },
  ]);
});

test("encodeEvent ends a message with event or id but no data with a blank line", () => {
  expect(encodeEvent({ event: "x" })).toBe("event: x\n\n");
  expect(encodeEvent({ id: "1" })).toBe("id: 1\n\n");
});

test("encodeEvent writes nothing for an empty message", () => {
  expect(encodeEvent({})).toBe("");
});

test("encodeEvent writes the fields in the order comment, retry, event, id, data", () => {
  const frame = encodeEvent({ data: "d", id: "i", event: "e", retry: 1, comment: "c" });
  expect(frame).toBe(": c\nretry: 1\nevent: e\nid: i\ndata: d\n\n");
  expect(specParseText(frame)).toEqual({
    events: [{ type: "e", data: "d", lastEventId: "i" }],
    retries: [1],
    comments: ["c"],
    lastEventId: "i",
  });
});

test("encodeEvent rejects a message that is not an object", () => {
  for (const [message, described] of [
    [null, "null"],
    [undefined, "undefined"],
    ["hi", '"hi"'],
    [3, "number 3"],
  ] as const) {
    const error = thrown(message);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(`Cannot encode event: the message must be an object, received ${described}`);
  }
});

test("encodeEvent rejects fields that are not strings with a TypeError naming the field", () => {
  const cases: [EventMessage, string][] = [
    [{ data: 1 as never }, '"data" must be a string, received number 1'],
    [{ event: null as never }, '"event" must be a string, received null'],
    [{ id: 7 as never }, '"id" must be a string, received number 7'],
    [{ comment: {} as never }, '"comment" must be a string, received object'],
  ];
  for (const [message, detail] of cases) {
    const error = thrown(message);
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(`Cannot encode event: ${detail}`);
  }
});

test("encodeData writes data lines without the blank line", () => {
  expect(encodeData("a")).toBe("data: a\n");
  expect(encodeData("a\r\nb\rc")).toBe("data: a\ndata: b\ndata: c\n");
  expect(encodeData("")).toBe("data: \n");
  expect(() => encodeData(undefined as never)).toThrow(TypeError);
});

test("encodeComment writes colon lines, and a bare colon for empty text", () => {
  expect(encodeComment("")).toBe(":\n");
  expect(encodeComment("keep-alive")).toBe(": keep-alive\n");
  expect(encodeComment("a\r\nb")).toBe(": a\n: b\n");
  expect(() => encodeComment(5 as never)).toThrow('"comment" must be a string');
});
