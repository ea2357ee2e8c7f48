/**
 * Types shared by the encoder and the parser. No runtime code lives here.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 * @module
 */
import type { EncodedEvent } from "./encoded-event.ts";
import type { PushSource } from "./push-source.ts";

/**
 * One message to send on an event stream. Every field is optional; absent fields write nothing,
 * and a field set to `undefined` counts as absent (so callers with `exactOptionalPropertyTypes`
 * may pass either).
 *
 * @example
 * ```ts
 * import type { EventMessage } from "./mod.ts";
 * const message: EventMessage = { event: "price", id: "42", data: '{"usd":1.07}' };
 * ```
 */
export type EventMessage = {
  /** The event's data. CR, LF and CRLF inside it each become one line break on the client. */
  data?: string | undefined;
  /** The event type; the client's default is `message`. Must not contain CR or LF. */
  event?: string | undefined;
  /** The event id (`""` resets the client's Last-Event-ID). Must not contain CR, LF or NUL. */
  id?: string | undefined;
  /** The client's reconnection time in milliseconds: a non-negative safe integer. */
  retry?: number | undefined;
  /** A comment; each of its lines becomes one `:` line, which clients ignore. */
  comment?: string | undefined;
};

/**
 * What the spec dispatches for one event: the fields a browser's `MessageEvent` carries.
 *
 * @example
 * ```ts
 * import type { ServerSentEvent } from "./mod.ts";
 * const seen: ServerSentEvent = { type: "message", data: "hello", lastEventId: "" };
 * ```
 */
export type ServerSentEvent = {
  /** The event type: the last `event` field of the block, or `message`. */
  type: string;
  /** The data lines of the block joined with LF. */
  data: string;
  /** The stream's last event ID when this event was dispatched (it persists across events). */
  lastEventId: string;
};

/**
 * Options of the parser, its stream wrapper and {@link parseEventStream}.
 *
 * @example
 * ```ts
 * import type { ParserOptions } from "./mod.ts";
 * const options: ParserOptions = { maxEventSize: 1 << 20, onRetry: (ms) => console.log(ms) };
 * ```
 */
export type ParserOptions = {
  /** Called when a `retry` field with a valid value is processed. */
  onRetry?(ms: number): void;
  /** Called with the text of each comment line, one leading space removed. */
  onComment?(text: string): void;
  /**
   * The largest pending line or event data, in UTF-16 code units, before the parser fails with an
   * {@link EventStreamSizeError}. Default 16 MiB (16 777 216); `Infinity` turns the bound off.
   */
  maxEventSize?: number;
};

/**
 * Callbacks of the synchronous push parser made by {@link createParser}.
 *
 * @example
 * ```ts
 * import { createParser, type ParserCallbacks } from "./mod.ts";
 * const callbacks: ParserCallbacks = { onEvent: (event) => console.log(event.data) };
 * createParser(callbacks).feed("data: hi\n\n");
 * ```
 */
export type ParserCallbacks = ParserOptions & {
  /** Called once for every dispatched event. */
  onEvent(event: ServerSentEvent): void;
};

/**
 * Options of {@link toEventStream} and {@link eventStreamResponse}.
 *
 * @example
 * ```ts
 * import type { EventStreamOptions } from "./mod.ts";
 * const options: EventStreamOptions = { heartbeat: 15_000, retry: 2_000 };
 * ```
 */
export type EventStreamOptions = {
  /** While the source is idle, send a `:` comment line every this many milliseconds. Default: off. */
  heartbeat?: number;
  /** Send `retry: <ms>` first, setting the client's reconnection time. */
  retry?: number;
  /** Aborting it ends the stream and runs the source iterator's `return()`. */
  signal?: AbortSignal;
  /** Receives an error thrown by the source (or by encoding one of its messages). Default: `console.error`. */
  onError?(error: unknown): void;
  /**
   * Push sources only: the most bytes a slow reader may leave unread before the stream is cut
   * (the connection destroyed, so the client reconnects and resumes). Default 1 MiB. A pulled
   * source needs no bound: it advances only as fast as the reader reads.
   */
  maxBufferedBytes?: number;
  /** Push sources only: the most events a slow reader may leave unread before the stream is cut. Default: no limit. */
  maxBufferedEvents?: number;
  /**
   * Push sources only: how long, in ms, a write may wait on a reader that stopped reading before
   * the stream is cut. Checked once a second (or every `heartbeat` ms, if shorter). Default: off.
   */
  writeTimeout?: number;
  /** Push sources only: told about every event written and every cut, e.g. to count them. */
  observer?: StreamObserver;
};

/**
 * What an event stream over a push source reports, e.g. to a metrics collector. Called on the
 * hot path: keep it to counting.
 *
 * @example
 * ```ts
 * import type { StreamObserver } from "./mod.ts";
 * const totals = { events: 0, bytes: 0, cut: 0 };
 * const observer: StreamObserver = {
 *   sent(bytes) {
 *     totals.events++;
 *     totals.bytes += bytes;
 *   },
 *   cut: () => void totals.cut++,
 * };
 * ```
 */
export type StreamObserver = {
  /** One event was written (heartbeats and the `retry` line are not counted). */
  sent?(bytes: number): void;
  /** The stream was cut: its reader fell `maxBufferedBytes` behind, or missed `writeTimeout`. */
  cut?(reason: "overflow" | "timeout"): void;
};

/**
 * What {@link toEventStream} accepts: any sync or async iterable of messages, or a
 * {@link PushSource} that pushes them. A plain string is
 * shorthand for `{ data: string }`; an {@link EncodedEvent} is sent as already framed.
 *
 * @example
 * ```ts
 * import type { MessageSource } from "./mod.ts";
 * const source: MessageSource = ["one", { event: "done", data: "two" }];
 * ```
 */
export type MessageSource =
  | AsyncIterable<EventMessage | EncodedEvent | string>
  | Iterable<EventMessage | EncodedEvent | string>
  | PushSource;
