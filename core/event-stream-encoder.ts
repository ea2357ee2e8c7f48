/**
 * The encoder as a web stream: `messages.pipeThrough(new EventStreamEncoder())`.
 *
 * @module
 */
import { type EncodedEvent, frameOf } from "./encoded-event.ts";
import type { EventMessage } from "./types.ts";

/**
 * A `TransformStream` from {@link EventMessage}s (or {@link EncodedEvent}s) to UTF-8 frame bytes,
 * one chunk per message.
 * A message {@link encodeEvent} rejects errors the stream with that `TypeError`/`RangeError`.
 *
 * @example Usage
 * ```ts
 * import { EventStreamEncoder } from "./mod.ts";
 * const body = ReadableStream.from([{ data: "a" }, { event: "end", data: "b" }])
 *   .pipeThrough(new EventStreamEncoder());
 * const response = new Response(body, { headers: { "content-type": "text/event-stream" } });
 * ```
 */
export class EventStreamEncoder extends TransformStream<EventMessage | EncodedEvent, Uint8Array> {
  constructor() {
    const encoder = new TextEncoder();
    super({
      transform(message, controller) {
        controller.enqueue(encoder.encode(frameOf(message)));
      },
    });
  }
}
