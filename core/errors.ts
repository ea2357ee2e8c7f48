/**
 * The one error type callers are expected to catch and branch on: a size bound was exceeded.
 * Argument errors use the built-in `TypeError` / `RangeError` with precise messages.
 *
 * @module
 */

/**
 * Thrown (push parser) or used to error the stream (stream parsers) when a pending line or the
 * pending event's data grows past `maxEventSize`: a hostile or broken upstream cannot make the
 * parser buffer without bound.
 *
 * @example
 * ```ts
 * import { createParser, EventStreamSizeError } from "./mod.ts";
 * const parser = createParser({ onEvent() {}, maxEventSize: 8 });
 * try {
 *   parser.feed("data: far too long for the limit");
 * } catch (error) {
 *   if (error instanceof EventStreamSizeError) console.log(error.type, error.limit);
 * }
 * ```
 */
export class EventStreamSizeError extends RangeError {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "max-event-size" as const;
  /** The configured bound, in UTF-16 code units. */
  readonly limit: number;
  /** The size that exceeded it. */
  readonly size: number;

  constructor(what: "line" | "event", size: number, limit: number) {
    super(`Cannot parse event stream: the pending ${what} holds ${size} characters, over maxEventSize ${limit}`);
    this.name = "EventStreamSizeError";
    this.limit = limit;
    this.size = size;
  }
}
