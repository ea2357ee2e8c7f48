/**
 * A message encoded once and sent as it is to any number of streams: fan-out (a chat message
 * to every subscriber of a room) pays for the framing once, not once per subscriber.
 *
 * @module
 */
import { encodeData, encodeEvent } from "./encode.ts";
import type { EventMessage } from "./types.ts";

/**
 * An {@link EventMessage} already framed by {@link encodeEvent}: it keeps the message's fields
 * (so it is itself an `EventMessage`) plus the `frame`. Immutable: share one instance between
 * streams. {@link toEventStream} and {@link EventStreamEncoder} send its `frame` without encoding
 * it again.
 *
 * @example Encode once, send to many
 * ```ts
 * import { EncodedEvent, toEventStream } from "./mod.ts";
 * const news = new EncodedEvent({ id: "7", data: '{"headline":"eddy ships"}' });
 * const streams = [toEventStream([news]), toEventStream([news])]; // one encodeEvent call
 * ```
 */
export class EncodedEvent implements EventMessage {
  declare readonly data?: string;
  declare readonly event?: string;
  declare readonly id?: string;
  declare readonly retry?: number;
  declare readonly comment?: string;
  /**
   * The frame as UTF-8 bytes, encoded once: every stream sends this same `Uint8Array` (not
   * enumerable, like `frame`). Treat it as read-only.
   */
  declare readonly bytes: Uint8Array;

  /**
   * @param message The message to frame; its fields are copied.
   * @throws {TypeError | RangeError} As {@link encodeEvent} does, at construction.
   */
  constructor(message: EventMessage) {
    Object.defineProperty(this, "bytes", { value: UTF8.encode(encodeEvent(message)) });
    Object.assign(this, pick(message));
    Object.freeze(this);
  }

  /** The frame's text, as {@link encodeEvent} returned it (not enumerable: a copy is a plain message). */
  get frame(): string {
    // Decoded on demand: the bytes are what streams send, so the text is not kept twice.
    return UTF8_DECODER.decode(this.bytes);
  }
}

const UTF8 = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

function pick({ data, event, id, retry, comment }: EventMessage): EventMessage {
  const fields: { -readonly [K in keyof EventMessage]: EventMessage[K] } = {};
  if (data !== undefined) fields.data = data;
  if (event !== undefined) fields.event = event;
  if (id !== undefined) fields.id = id;
  if (retry !== undefined) fields.retry = retry;
  if (comment !== undefined) fields.comment = comment;
  return fields;
}

/** Internal: the frame for one item a stream source yields (a string is shorthand for data). */
export function frameOf(item: EventMessage | EncodedEvent | string): string {
  if (typeof item === "string") return encodeData(item) + "\n";
  if (item instanceof EncodedEvent) return item.frame;
  return encodeEvent(item);
}

/** Internal: {@link frameOf} as bytes; an {@link EncodedEvent}'s own bytes, not a copy. */
export function bytesOf(item: EventMessage | EncodedEvent | string): Uint8Array {
  if (item instanceof EncodedEvent) return item.bytes ?? UTF8.encode(item.frame);
  return UTF8.encode(frameOf(item));
}
