/**
 * The parser as a web stream: `body.pipeThrough(new EventStreamParser())`.
 *
 * @module
 */
import { createParser } from "./create-parser.ts";
import type { ParserOptions, ServerSentEvent } from "./types.ts";

/**
 * A `TransformStream` from event-stream bytes (or text) to {@link ServerSentEvent}s. A size bound
 * breach errors the stream with {@link EventStreamSizeError}; an unterminated final event is
 * discarded, as the spec says.
 *
 * @example Usage with fetch
 * ```ts no-run
 * import { EventStreamParser } from "./mod.ts";
 * const response = await fetch("https://example.com/events");
 * for await (const event of response.body!.pipeThrough(new EventStreamParser())) {
 *   console.log(event.type, event.data, event.lastEventId);
 * }
 * ```
 */
export class EventStreamParser extends TransformStream<Uint8Array | string, ServerSentEvent> {
  /**
   * @param options `onRetry`, `onComment`, `maxEventSize` (default 16 MiB).
   * @throws {RangeError} If `maxEventSize` is not a positive number.
   */
  constructor(options: ParserOptions = {}) {
    let enqueue: (event: ServerSentEvent) => void = () => {};
    const parser = createParser({ ...options, onEvent: (event) => enqueue(event) });
    super({
      start(controller) {
        enqueue = (event) => controller.enqueue(event);
      },
      transform(chunk) {
        parser.feed(chunk);
      },
      flush() {
        parser.end();
      },
    });
  }
}
