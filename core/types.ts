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

/**
 * A request body {@link connect} can send again on every reconnect: anything the platform turns
 * into bytes afresh for each request. A `ReadableStream` is read once, so it is not one of them.
 *
 * @example
 * ```ts
 * import type { ConnectBody } from "./mod.ts";
 * const body: ConnectBody = JSON.stringify({ room: "lobby" });
 * ```
 */
export type ConnectBody = string | ArrayBuffer | ArrayBufferView<ArrayBuffer> | Blob | FormData | URLSearchParams;

/**
 * What {@link connect}'s `onRetry` hook is told before each wait to reconnect.
 *
 * @example
 * ```ts
 * import type { RetryInfo } from "./mod.ts";
 * const status = ({ delay, attempt, reason }: RetryInfo) => `retry #${attempt} in ${delay} ms (${reason})`;
 * ```
 */
export type RetryInfo = {
  /** Milliseconds until the next attempt starts. */
  delay: number;
  /**
   * Counts the attempts since the connection was last announced (opened): 1 for the first
   * reconnect, 2 if that one failed too, and so on.
   */
  attempt: number;
  /**
   * Why: `"end"` the body ended; `"network"` the fetch or a read of the body failed; `"idle"`
   * nothing arrived for `idleTimeout` ms; `"status"` a 502, 503 or 504 answer (with `backoff` only).
   */
  reason: "end" | "network" | "idle" | "status";
};

/**
 * The opt-in reconnect policy of {@link connect}. Each wait is the reconnection time (what a
 * server's `retry` field sets) plus a random share of a window that doubles with every failed
 * attempt: `reconnectionTime + random() * min(maxDelay, initialDelay * 2 ** (attempt - 1))`
 * ("full jitter"), and never less than a 502/503/504 answer's `Retry-After`.
 *
 * @example
 * ```ts
 * import type { BackoffOptions } from "./mod.ts";
 * const backoff: BackoffOptions = { initialDelay: 500, maxDelay: 60_000, maxRetries: 20 };
 * ```
 */
export type BackoffOptions = {
  /** The jitter window of the first attempt, in ms. Default 1000. */
  initialDelay?: number | undefined;
  /** The largest jitter window, in ms. Default 30 000. */
  maxDelay?: number | undefined;
  /**
   * How many attempts in a row may fail (no connection announced between them) before the
   * connection fails with a {@link ConnectError} of reason `"attempts"`. Default `Infinity`.
   */
  maxRetries?: number | undefined;
  /** The source of jitter, returning a number in [0, 1). Default `Math.random`; inject one in tests. */
  random?: (() => number) | undefined;
};

/**
 * Options of {@link connect}. Every field is optional; a field set to `undefined` counts as absent.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./mod.ts";
 * const options: ConnectOptions = {
 *   headers: { authorization: "Bearer token" },
 *   backoff: { maxRetries: 10 },
 *   idleTimeout: 45_000,
 *   onRetry: ({ delay, reason }) => console.log(`reconnecting in ${delay} ms (${reason})`),
 * };
 * ```
 */
export type ConnectOptions = {
  /** The request method. Default: the `Request`'s, else `GET`. */
  method?: string | undefined;
  /** Request headers; they replace a `Request`'s own, as `new Request(input, { headers })` does. */
  headers?: HeadersInit | undefined;
  /** The request body, sent again on every reconnect (so not a `ReadableStream`). Not with GET or HEAD. */
  body?: ConnectBody | undefined;
  /** Aborting it closes the connection, as `close()` does. */
  signal?: AbortSignal | undefined;
  /** The `fetch` to use, e.g. a stub in tests or an app's `fetch` handler. Default `globalThis.fetch`. */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
  /** The last event ID to resume from: sent as `Last-Event-ID` from the first request on. */
  lastEventId?: string | undefined;
  /** The reconnection time until the server sets one with a `retry` field, in ms. Default 3000. */
  reconnectionTime?: number | undefined;
  /** The parser's bound on a pending line or event, as in {@link ParserOptions}. Default 16 MiB. */
  maxEventSize?: number | undefined;
  /** Retry with growing, jittered waits, also on 502/503/504 answers: `true` for the defaults. Default: off. */
  backoff?: BackoffOptions | boolean | undefined;
  /**
   * `false`: never reconnect, for a request that must not be sent twice (a POST that starts an
   * LLM completion): the end of the body ends the iteration, a network error or the idle
   * watchdog fails it. Default `true`, as `EventSource`.
   */
  reconnect?: boolean | undefined;
  /**
   * Milliseconds without a byte (a heartbeat comment counts) while waiting for the response or
   * for the body, after which the connection counts as dead: it is dropped and reopened with
   * `Last-Event-ID`. Set it above the server's heartbeat interval. Default: off.
   */
  idleTimeout?: number | undefined;
  /** Called when the connection is announced: a 200 `text/event-stream` response arrived. */
  onOpen?: ((response: Response) => void) | undefined;
  /** Called before each wait to reconnect. */
  onRetry?: ((info: RetryInfo) => void) | undefined;
  /** Called with each error: those the connection recovers from by reconnecting, and the one that fails it. */
  onError?: ((error: unknown) => void) | undefined;
  /** Called with the text of each comment line (heartbeats), one leading space removed. */
  onComment?: ((text: string) => void) | undefined;
};
