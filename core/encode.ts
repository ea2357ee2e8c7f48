/**
 * Framing: one {@link EventMessage} to the text of one SSE frame. A pure function; the streams
 * only wrap it.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 * @module
 */
import { checkNumber, describe } from "./_check.ts";
import type { EventMessage } from "./types.ts";

// HTML §9.2.6 ("Parsing an event stream"): a line ends at CRLF, a lone LF or a lone CR. SSE has no
// escape for any of them, so each one inside a value must become a new field line: a lone CR left
// in place would let user text end the line and inject fields or a whole second event.
const LINE_BREAK = /\r\n|\r|\n/;
const LINE_BREAKS = /\r\n|\r|\n/g;

/**
 * Encodes one message as the text of a complete SSE frame.
 *
 * A message with `data`, `event` or `id` ends with a blank line (the spec's dispatch). A message
 * holding only `comment` and/or `retry` ends with its last line terminator and dispatches nothing.
 * Lone surrogates in the text are left as they are: every UTF-8 encoder (`TextEncoder`, the
 * streams here) writes them as U+FFFD, so the bytes on the wire are always valid UTF-8.
 *
 * @param message The fields to write; absent fields write nothing, `""` fields are written.
 * @returns The frame's text, lines ending in LF.
 * @throws {TypeError} If a field has the wrong type, `event` or `id` contains CR or LF, or `id`
 *   contains NUL.
 * @throws {RangeError} If `retry` is not a non-negative safe integer.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeEvent } from "./mod.ts";
 * assert.equal(encodeEvent({ event: "chat", id: "7", data: "two\nlines" }), "event: chat\nid: 7\ndata: two\ndata: lines\n\n");
 * ```
 */
export function encodeEvent(message: EventMessage): string {
  if (typeof message !== "object" || message === null) {
    throw new TypeError(`Cannot encode event: the message must be an object, received ${describe(message)}`);
  }
  const { data, event, id, retry, comment } = message;
  let frame = "";
  if (comment !== undefined) frame += encodeComment(comment);
  if (retry !== undefined) frame += `retry: ${checkRetry(retry)}\n`;
  let dispatches = false;
  if (event !== undefined) {
    frame += `event: ${checkSingleLine("event", event)}\n`;
    dispatches = true;
  }
  if (id !== undefined) {
    // HTML §9.2.6: a client ignores an `id` whose value contains NUL; refuse to write one.
    if (checkSingleLine("id", id).includes("\0")) {
      throw new TypeError(`Cannot encode event: "id" cannot contain NUL (U+0000), received ${JSON.stringify(id)}`);
    }
    frame += `id: ${id}\n`;
    dispatches = true;
  }
  if (data !== undefined) {
    frame += encodeData(data);
    dispatches = true;
  }
  // HTML §9.2.6: an empty line dispatches the event.
  return dispatches ? frame + "\n" : frame;
}

/**
 * Encodes only the data lines of a frame (no blank line): `data: <line>\n` for each line.
 * Exposed for hot paths that build frames themselves.
 *
 * @param data The data; CR, LF and CRLF each become one line break.
 * @returns One `data:` line per line of `data`.
 * @throws {TypeError} If `data` is not a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeData } from "./mod.ts";
 * assert.equal(encodeData("a\r\nb"), "data: a\ndata: b\n");
 * ```
 */
export function encodeData(data: string): string {
  if (typeof data !== "string") {
    throw new TypeError(`Cannot encode event: "data" must be a string, received ${describe(data)}`);
  }
  // Fast path: most data (JSON, tokens) has no line break at all.
  if (!LINE_BREAK.test(data)) return `data: ${data}\n`;
  return `data: ${data.replace(LINE_BREAKS, "\ndata: ")}\n`;
}

/**
 * Encodes a comment: one `:` line per line of text. `""` gives the bare `:\n` used as a heartbeat.
 *
 * @param text The comment; CR, LF and CRLF each start a new comment line.
 * @returns The comment lines.
 * @throws {TypeError} If `text` is not a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeComment } from "./mod.ts";
 * assert.equal(encodeComment("keep-alive"), ": keep-alive\n");
 * ```
 */
export function encodeComment(text: string): string {
  if (typeof text !== "string") {
    throw new TypeError(`Cannot encode event: "comment" must be a string, received ${describe(text)}`);
  }
  if (text === "") return ":\n";
  // HTML §9.2.6: a line starting with U+003A COLON is a comment and is ignored by clients.
  return `: ${text.replace(LINE_BREAKS, "\n: ")}\n`;
}

function checkSingleLine(field: "event" | "id", value: unknown): string {
  if (typeof value !== "string") {
    throw new TypeError(`Cannot encode event: "${field}" must be a string, received ${describe(value)}`);
  }
  if (LINE_BREAK.test(value)) {
    throw new TypeError(
      `Cannot encode event: "${field}" cannot contain a line break (CR or LF), received ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkRetry(retry: unknown): number {
  // Interpreting an event stream, the "retry" field: the client accepts the value only when it
  // is ASCII digits, so only a non-negative integer written without exponent or sign takes effect.
  return checkNumber(retry, "a non-negative safe integer", "Cannot encode event", "retry", "milliseconds");
}
