/**
 * The synchronous push parser: bytes or text in, {@link ServerSentEvent}s out through callbacks.
 * It composes the three private layers: `_lines.ts` (decode, split into lines),
 * `_parse-line.ts` (one line into a field) and `_interpret.ts` (buffers and dispatch).
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 * @module
 */
import { checkNumber } from "./_check.ts";
import { EventInterpreter } from "./_interpret.ts";
import { LineSplitter } from "./_lines.ts";
import type { ParserCallbacks, ParserOptions } from "./types.ts";

/**
 * The default `maxEventSize`: 16 MiB of text, far above any real event and far below what would
 * hurt a server that parses many upstreams at once.
 *
 * @example
 * ```ts
 * import { createParser, DEFAULT_MAX_EVENT_SIZE } from "./mod.ts";
 * const parser = createParser({ onEvent() {}, maxEventSize: DEFAULT_MAX_EVENT_SIZE / 16 }); // 1 MiB
 * ```
 */
export const DEFAULT_MAX_EVENT_SIZE = 16 * 1024 * 1024;

/**
 * A push parser for one event stream, made by {@link createParser}.
 *
 * @example
 * ```ts
 * import { createParser } from "./mod.ts";
 * const parser = createParser({ onEvent: (e) => console.log(e.type, e.data) });
 * parser.feed(new TextEncoder().encode("event: hi\ndata: there\n\n"));
 * parser.end();
 * ```
 */
export interface Parser {
  /**
   * Parses the next chunk (bytes are UTF-8; text is taken as decoded). Events complete in it are
   * dispatched before `feed` returns.
   *
   * @throws {EventStreamSizeError} When a pending line or event passes `maxEventSize`; the parser
   *   is then reset.
   */
  feed(chunk: Uint8Array | string): void;
  /**
   * Ends the stream: an unterminated line or event is discarded (HTML §9.2.6) and decoding starts
   * afresh. The last event ID is kept, as a reconnecting `EventSource` keeps it.
   */
  end(): void;
  /** Forgets everything, the last event ID included, as for a new connection. */
  reset(): void;
  /** The last event ID so far: what a reconnecting client sends as `Last-Event-ID`. */
  readonly lastEventId: string;
}

/**
 * The former name of {@link Parser}, kept for one release.
 *
 * @deprecated Use {@link Parser}.
 * @example
 * ```ts
 * import type { EventStreamPushParser, Parser } from "./mod.ts";
 * const same = (parser: EventStreamPushParser): Parser => parser;
 * ```
 */
export type EventStreamPushParser = Parser;

/**
 * Creates a synchronous push parser that follows the WHATWG HTML standard's event stream
 * parsing and interpretation exactly, whatever the chunking.
 *
 * @param callbacks `onEvent` for each dispatched event; optional `onRetry`, `onComment`,
 *   `maxEventSize` (default 16 MiB).
 * @returns The parser.
 * @throws {TypeError} If `onEvent` is not a function.
 * @throws {RangeError} If `maxEventSize` is not a positive number.
 *
 * @example Usage
 * ```ts
 * import { createParser, type ServerSentEvent } from "./mod.ts";
 * const events: ServerSentEvent[] = [];
 * const parser = createParser({ onEvent: (event) => events.push(event) });
 * parser.feed("id: 1\ndata: hel");
 * parser.feed("lo\n\n");
 * // events: [{ type: "message", data: "hello", lastEventId: "1" }]
 * ```
 */
export function createParser(callbacks: ParserCallbacks): Parser {
  if (typeof callbacks !== "object" || callbacks === null || typeof callbacks.onEvent !== "function") {
    const hint = typeof callbacks === "function" ? ": did you mean createParser({ onEvent: fn })?" : "";
    throw new TypeError(`Cannot create parser: "onEvent" must be a function${hint}`);
  }
  const max = checkMaxEventSize(callbacks.maxEventSize);
  let interpreter = new EventInterpreter(callbacks.onEvent, callbacks.onRetry, callbacks.onComment, max);
  const lines = new LineSplitter(interpreter, max);
  const reset = () => {
    lines.reset();
    interpreter = new EventInterpreter(callbacks.onEvent, callbacks.onRetry, callbacks.onComment, max);
    lines.sink = interpreter;
  };
  return {
    feed(chunk) {
      try {
        lines.push(chunk);
      } catch (error) {
        reset();
        throw error;
      }
    },
    end() {
      lines.end();
      interpreter.discardPending();
    },
    reset,
    get lastEventId() {
      return interpreter.lastEventId;
    },
  };
}

/** Validates `maxEventSize` (shared by every parser entry point). */
function checkMaxEventSize(value: ParserOptions["maxEventSize"]): number {
  if (value === undefined) return DEFAULT_MAX_EVENT_SIZE;
  return checkNumber(value, "a positive number", "Cannot create parser", "maxEventSize");
}
