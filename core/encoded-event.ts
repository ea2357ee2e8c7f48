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
   * @param options `keepData: false` keeps the frame only, not a second copy of `data`: a store
   *   of many events (a chat history) then holds each text once, as the bytes it sends. `data`
   *   is then read back from the frame when asked for (as a client receives it: each CR or CRLF
   *   in it reads back as LF) and is not an own property, so a spread copy has no `data`.
   * @throws {TypeError | RangeError} As {@link encodeEvent} does, at construction.
   *
   * @example Hold the frame only
   * ```ts
   * import assert from "node:assert/strict";
   * import { EncodedEvent } from "./mod.ts";
   * const stored = new EncodedEvent({ id: "1", data: '{"text":"안녕"}' }, { keepData: false });
   * assert.equal(stored.data, '{"text":"안녕"}'); // decoded from stored.bytes on demand
   * ```
   */
  constructor(message: EventMessage, options?: EncodedEventOptions) {
    Object.defineProperty(this, "bytes", { value: UTF8.encode(encodeEvent(message)) });
    const fields = pick(message);
    if (options?.keepData === false) delete fields.data;
    // Defined, not assigned: assigning `data` would hit the read-only accessor below.
    for (const [key, value] of Object.entries(fields)) {
      Object.defineProperty(this, key, { value, enumerable: true, writable: true, configurable: true });
    }
    Object.freeze(this);
  }

  /**
   * Without `keepData: false` this is shadowed by the own `data` copied at construction; with it,
   * the data lines of the frame, joined by LF, as the parser's "process the field" step for
   * `data` builds them (`undefined` if the frame has none).
   */
  get data(): string | undefined {
    const lines = this.frame.split("\n");
    let data: string | undefined;
    for (const line of lines) {
      if (!line.startsWith("data:")) continue;
      const value = line.startsWith("data: ") ? line.slice(6) : line.slice(5);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    return data;
  }

  /** The frame's text, as {@link encodeEvent} returned it (not enumerable: a copy is a plain message). */
  get frame(): string {
    // Decoded on demand: the bytes are what streams send, so the text is not kept twice.
    return UTF8_DECODER.decode(this.bytes);
  }
}

/**
 * How an {@link EncodedEvent} keeps what it was made from.
 *
 * @example
 * ```ts
 * import type { EncodedEventOptions } from "./mod.ts";
 * const frameOnly: EncodedEventOptions = { keepData: false };
 * ```
 */
export type EncodedEventOptions = {
  /** Keep a copy of `data` besides the frame (default `true`); `false`: read it back from the frame. */
  readonly keepData?: boolean;
};

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
