/**
 * Private: the event stream of a {@link PushSource}. The source pushes each event as it happens;
 * the stream writes its bytes at once to one of two outputs, whichever asks first:
 *
 * - a {@link ByteSink} given by a server mount through `attachSink` (the connection itself: no
 *   promise, no queue, no copy per event), or
 * - its `ReadableStream` (`readable`), for every other consumer: events are enqueued as they
 *   come, so the producer side costs no promise per event either.
 *
 * Either way the stream bounds what a slow reader can pin: more than `maxBufferedBytes` waiting,
 * or a write blocked for `writeTimeout`, cuts the stream (the connection is destroyed, not ended,
 * so the client sees a failure and reconnects with `Last-Event-ID`) and detaches the source.
 * Heartbeats and deadlines run on one shared timer (`_ticker.ts`).
 *
 * @module
 */
import { joinTicks, leaveTicks } from "./_ticker.ts";
import { encodeEvent } from "./encode.ts";
import { bytesOf } from "./encoded-event.ts";
import {
  type Attachable,
  type AttachedStream,
  type ByteSink,
  markAttachable,
  PUSH_SOURCE,
  type PushConsumer,
  type PushSource,
} from "./push-source.ts";
import type { EventMessage, EventStreamOptions } from "./types.ts";
import type { EncodedEvent } from "./encoded-event.ts";

/** The longest tick: heartbeats and deadlines are checked at least this often. */
const MAX_TICK_MS = 1000;
/** What a reader may leave unread before it is cut, unless `maxBufferedBytes` says otherwise. */
const DEFAULT_MAX_BUFFERED_BYTES = 1024 * 1024;
const UTF8 = new TextEncoder();
const HEARTBEAT = UTF8.encode(":\n");
const RETRY_LINES = new Map<number, Uint8Array>();

/** The `retry:` line's bytes, shared by every stream that sends the same value (usually one). */
function retryLine(ms: number): Uint8Array {
  let line = RETRY_LINES.get(ms);
  if (line === undefined) {
    line = UTF8.encode(encodeEvent({ retry: ms }));
    if (RETRY_LINES.size < 64) RETRY_LINES.set(ms, line);
  }
  return line;
}

/** Why a stream was cut: its reader fell too far behind, or stopped reading for too long. */
type CutReason = "overflow" | "timeout";

// The stream's state: not started, writing to `readable`, writing to a sink, ended.
const IDLE = 0;
const READABLE = 1;
const SINK = 2;
const DONE = 3;
type Mode = typeof IDLE | typeof READABLE | typeof SINK | typeof DONE;

/**
 * Builds the stream; `readable` is its body, also attachable to a sink.
 *
 * @param source The push source.
 * @param options The stream options (validated by the caller).
 * @returns The readable side.
 *
 * @example
 * ```ts
 * import { pushEventStream } from "./_push-stream.ts";
 * import { PUSH_SOURCE } from "./push-source.ts";
 * const body = pushEventStream({ [PUSH_SOURCE]: (consumer) => (consumer.push("hi"), () => {}) }, {});
 * await body.cancel();
 * ```
 */
export function pushEventStream(source: PushSource, options: EventStreamOptions): ReadableStream<Uint8Array> {
  return new PushStream(source, options).readable();
}

/**
 * The stream of a push source before it has an output: a mount attaches a sink to it, or
 * `readable()` makes its `ReadableStream` (once) for everyone else.
 *
 * @example
 * ```ts
 * import { pushStream, type PushStreamHandle } from "./_push-stream.ts";
 * import { PUSH_SOURCE } from "./push-source.ts";
 * const stream: PushStreamHandle = pushStream({ [PUSH_SOURCE]: () => () => {} }, {});
 * stream.cancel(); // nobody will read it
 * ```
 */
export interface PushStreamHandle extends Attachable {
  /** The readable side, attachable to a sink until it is read. Call once. */
  readable(): ReadableStream<Uint8Array>;
  /** Nobody will read it (the client left, a HEAD answer): frees the source. Idempotent. */
  cancel(): void;
}

/**
 * Builds the stream without its readable side, for a response that makes the body only if
 * someone reads it (`eventStreamResponse` with `direct`).
 *
 * @param source The push source.
 * @param options The stream options (validated by the caller).
 * @returns The stream, not yet started.
 *
 * @example
 * ```ts
 * import { pushStream } from "./_push-stream.ts";
 * import { PUSH_SOURCE } from "./push-source.ts";
 * const stream = pushStream({ [PUSH_SOURCE]: (consumer) => (consumer.push("hi"), () => {}) }, { retry: 1000 });
 * const written: string[] = [];
 * const sink = { write: (b: Uint8Array) => written.push(new TextDecoder().decode(b)) > 0, buffered: 0, end() {}, destroy() {} };
 * stream.attach(sink);
 * console.log(written.join("")); // "retry: 1000\ndata: hi\n\n"
 * stream.cancel();
 * ```
 */
export function pushStream(source: PushSource, options: EventStreamOptions): PushStreamHandle {
  return new PushStream(source, options);
}

/** Nothing is pulled ahead: `desiredSize` is minus the bytes queued and unread. */
const BYTE_STRATEGY: QueuingStrategy<Uint8Array> = Object.freeze({
  highWaterMark: 0,
  size: (chunk: Uint8Array) => chunk.byteLength,
});

/** What a stream keeps of its options: plain values, not the options object (nor its signal). */
type Settings = {
  readonly retry: number | undefined;
  readonly max: number;
  readonly maxEvents: number;
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly timeoutTicks: number;
  readonly writeTimeout: number | undefined;
  readonly observer: EventStreamOptions["observer"];
  readonly onError: (error: unknown) => void;
};

/**
 * The settings of frozen options objects (a server passes the same one to every stream): made
 * once, not per connection.
 */
const SETTINGS = new WeakMap<EventStreamOptions, Settings>();

function settingsOf(options: EventStreamOptions): Settings {
  const frozen = Object.isFrozen(options);
  let settings = frozen ? SETTINGS.get(options) : undefined;
  if (settings !== undefined) return settings;
  const { heartbeat, writeTimeout } = options;
  const tickMs = Math.min(MAX_TICK_MS, heartbeat ?? MAX_TICK_MS, writeTimeout ?? MAX_TICK_MS);
  settings = {
    retry: options.retry,
    max: options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES,
    maxEvents: options.maxBufferedEvents ?? Infinity,
    tickMs,
    heartbeatTicks: heartbeat === undefined ? Infinity : Math.max(1, Math.round(heartbeat / tickMs)),
    timeoutTicks: writeTimeout === undefined ? Infinity : Math.max(1, Math.ceil(writeTimeout / tickMs)),
    writeTimeout,
    observer: options.observer,
    onError: options.onError ?? defaultOnError,
  };
  if (frozen) SETTINGS.set(options, settings);
  return settings;
}

function defaultOnError(error: unknown): void {
  console.error("eddy: event stream source failed:", error);
}

/**
 * The stream's state. It is its own consumer (the source calls `push`/`end`), its own attached
 * handle (`drained`/`cancel`) and its own abort listener (`handleEvent`), so a connection costs
 * this one object rather than a closure per role.
 */
class PushStream implements PushConsumer, AttachedStream, PushStreamHandle, UnderlyingDefaultSource<Uint8Array> {
  readonly #source: PushSource;
  readonly #settings: Settings;
  #signal: AbortSignal | undefined;
  #mode: Mode = IDLE;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #sink: ByteSink | undefined;
  #detach: (() => void) | undefined;
  #ticking = false; // a member of the shared timer
  #idleTicks = 0; // ticks since the last write
  #blockedTicks = -1; // ticks since a write found the output full; -1 while it is not
  #unread = 0; // live events written since the output was last found caught up
  #starting = false; // the source is pushing its backlog
  #allowance = 0; // backlog bytes not yet read: they do not count against the bound

  constructor(source: PushSource, options: EventStreamOptions) {
    this.#source = source;
    this.#settings = settingsOf(options);
    const { signal } = options;
    if (signal?.aborted === true) this.#finish();
    else if (signal !== undefined) {
      this.#signal = signal;
      signal.addEventListener("abort", this, { once: true });
    }
  }

  /**
   * The readable side. The stream is its own underlying source (`start`, `pull`, `cancel`) and
   * the strategy is shared: no closure per connection (each costs a few hundred bytes, more with
   * names kept). The stream does not hold the readable: once a sink is attached, the readable
   * side (and the Response around it) can be collected, leaving only what writing to the sink
   * needs.
   */
  readable(): ReadableStream<Uint8Array> {
    return markAttachable(new ReadableStream<Uint8Array>(this, BYTE_STRATEGY), this);
  }

  /** From the readable side, as its underlying source: its controller. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    if (this.#mode === DONE) this.#closeController(undefined); // aborted before it was built
  }

  /**
   * From the readable side: a read with nothing queued. The first one starts the stream; later
   * ones mean the reader has caught up.
   */
  pull(): void {
    if (this.#mode === IDLE) this.#start(READABLE);
    else this.#caughtUp();
  }

  /** The connection closed, or the reader cancelled (also as the readable's source): stop, and free the source. */
  cancel(): void {
    this.#finish();
  }

  /** The sink's buffer emptied. */
  drained(): void {
    this.#caughtUp();
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.#finish();
  }

  /** From the source: one event, now. */
  push(item: EventMessage | EncodedEvent | string): void {
    this.#push(item);
  }

  /** From the source: no more events. */
  end(): void {
    this.#finish();
  }

  /**
   * Writes to `sink` from now on. The mount ends the response itself when the connection closes
   * or the server shuts down, so the stream stops watching its signal (which would keep the
   * request's objects alive for as long as the connection lasts).
   */
  attach(sink: ByteSink): AttachedStream | undefined {
    if (this.#mode !== IDLE) return undefined;
    this.#sink = sink;
    this.#controller = undefined;
    this.#unwatchSignal();
    this.#start(SINK);
    return this;
  }

  #unwatchSignal(): void {
    this.#signal?.removeEventListener("abort", this);
    this.#signal = undefined;
  }

  #start(mode: typeof READABLE | typeof SINK): void {
    this.#mode = mode;
    const { retry, heartbeatTicks, timeoutTicks, tickMs } = this.#settings;
    if (retry !== undefined) this.#write(retryLine(retry));
    if (heartbeatTicks !== Infinity || timeoutTicks !== Infinity) {
      joinTicks(tickMs, this);
      this.#ticking = true;
    }
    try {
      // The source may push its backlog, or even end, before this returns.
      this.#starting = true;
      const detach = this.#source[PUSH_SOURCE](this);
      this.#starting = false;
      if ((this.#mode as Mode) === DONE)
        detach(); // it ended while pushing its backlog
      else this.#detach = detach;
    } catch (error) {
      this.#starting = false;
      this.#fail(error);
    }
  }

  #push(item: EventMessage | EncodedEvent | string): void {
    if (this.#mode === DONE) return;
    let bytes: Uint8Array;
    try {
      bytes = bytesOf(item);
    } catch (error) {
      return this.#fail(error); // a message encodeEvent rejects ends the stream, as a throwing source does
    }
    this.#settings.observer?.sent?.(bytes.byteLength);
    if (this.#starting) {
      // The backlog (replayed history) goes out at once, by design: it is not the reader lagging.
      this.#allowance += bytes.byteLength;
      this.#write(bytes);
    } else if (this.#write(bytes) && ++this.#unread > this.#settings.maxEvents) this.#cut("overflow");
  }

  #caughtUp(): void {
    this.#blockedTicks = -1;
    this.#unread = 0;
    this.#allowance = 0;
  }

  /** Writes to the output; `true` if the bytes wait behind a reader that is not keeping up. */
  #write(bytes: Uint8Array): boolean {
    this.#idleTicks = 0;
    let waiting: number;
    if (this.#mode === SINK) {
      const sink = this.#sink!;
      if (sink.write(bytes) && this.#blockedTicks < 0) return false;
      waiting = sink.buffered;
    } else {
      const controller = this.#controller!;
      controller.enqueue(bytes);
      waiting = -(controller.desiredSize ?? 0); // bytes queued that no read has asked for yet
      if (waiting <= 0) return false;
    }
    if (this.#blockedTicks < 0) this.#blockedTicks = 0;
    if (waiting > this.#settings.max + this.#allowance) this.#cut("overflow");
    return this.#mode !== DONE;
  }

  /** Called by the shared timer: a heartbeat when idle long enough, the write deadline. */
  tick(): void {
    if (this.#mode === DONE) return;
    if (this.#blockedTicks >= 0 && ++this.#blockedTicks >= this.#settings.timeoutTicks) return this.#cut("timeout");
    if (++this.#idleTicks >= this.#settings.heartbeatTicks) this.#write(HEARTBEAT);
  }

  #cut(reason: CutReason): void {
    const { max, maxEvents, writeTimeout, observer } = this.#settings;
    const error = new Error(
      reason === "overflow"
        ? `Event stream cut: the reader fell more than ${max} bytes or ${maxEvents} events behind`
        : `Event stream cut: the reader read nothing for ${writeTimeout} ms`,
    );
    observer?.cut?.(reason);
    this.#finish(error);
  }

  #fail(error: unknown): void {
    if (this.#mode === DONE) return;
    this.#settings.onError(error);
    this.#finish();
  }

  /** Ends the stream: cleanly, or with `error` (the connection is cut). Idempotent. */
  #finish(error?: Error): void {
    const mode = this.#mode;
    if (mode === DONE) return;
    this.#mode = DONE;
    if (this.#ticking) {
      this.#ticking = false;
      leaveTicks(this.#settings.tickMs, this);
    }
    this.#unwatchSignal();
    const detach = this.#detach;
    this.#detach = undefined;
    if (detach !== undefined) detach();
    // Never started (the response was dropped unread): the source may already hold a place for
    // this consumer, so start it against nothing and stop it at once, which frees that place.
    else if (mode === IDLE) {
      try {
        this.#source[PUSH_SOURCE]({ push() {}, end() {} })();
      } catch (error) {
        this.#settings.onError(error);
      }
    }
    if (mode === SINK) {
      if (error === undefined) this.#sink!.end();
      else this.#sink!.destroy(error);
      this.#sink = undefined;
      return;
    }
    this.#closeController(error);
  }

  #closeController(error: Error | undefined): void {
    try {
      if (error === undefined) this.#controller?.close();
      else this.#controller?.error(error);
    } catch {
      // Already cancelled by the reader.
    }
  }
}
