/**
 * An event stream client on `fetch` and web streams: what `EventSource` does (reconnecting with
 * `Last-Event-ID`, the server's `retry` field, 204 to stop), as an async iterable, with any
 * method, headers and body, plus an opt-in backoff and an idle watchdog. Each rule below names the
 * step of the HTML standard's processing model it follows.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model
 * @module
 */
import { backoffDelay } from "./_backoff.ts";
import { attemptRequest, type ConnectSettings, connectSettings } from "./_connect-options.ts";
import { parseRetryAfter } from "./_retry-after.ts";
import { createParser, type Parser } from "./create-parser.ts";
import type { ConnectOptions, RetryInfo, ServerSentEvent } from "./types.ts";

/**
 * A connection made by {@link connect}: iterate it once for its events. Breaking out of the loop,
 * `close()` or the `signal` closes it: the body is cancelled, the fetch aborted, a pending wait
 * cleared, and the iteration ends.
 *
 * @example
 * ```ts
 * import { connect, type EventStreamConnection } from "./mod.ts";
 * const fetch = async () => new Response("data: hi\n\n", { headers: { "content-type": "text/event-stream" } });
 * const events: EventStreamConnection = connect("https://example.com/events", { fetch });
 * const first = await events.next(); // { done: false, value: { type: "message", data: "hi", lastEventId: "" } }
 * events.close();
 * console.log(first.value, events.readyState); // ... "closed"
 * ```
 */
export interface EventStreamConnection extends AsyncIterableIterator<ServerSentEvent, undefined, undefined> {
  /** `"connecting"` until a response is announced and while reconnecting, `"open"`, then `"closed"`. */
  readonly readyState: "connecting" | "open" | "closed";
  /** The last event ID string: what the next reconnect sends as `Last-Event-ID` (if not empty). */
  readonly lastEventId: string;
  /** The reconnection time in ms: the option's, until the server's `retry` field sets it. */
  readonly reconnectionTime: number;
  /** The URL connected to, as the request has it. */
  readonly url: string;
  /** Closes the connection now; a pending `next()` resolves as done. Calling it again does nothing. */
  close(): void;
}

/**
 * Why a connection failed (the iterator throws it) or, for `"idle"` and retried statuses, why it
 * is being reopened (`onError` receives it). `reason` says which:
 *
 * - `"status"`: the answer was not 200 (and not 204, which ends the iteration instead);
 * - `"content-type"`: a 200 answer whose `Content-Type` is not `text/event-stream`;
 * - `"idle"`: nothing arrived for `idleTimeout` ms (reported to `onError`, then reconnected);
 * - `"attempts"`: `backoff.maxRetries` attempts in a row failed; `cause` holds the last error.
 *
 * @example
 * ```ts
 * import { ConnectError, connect } from "./mod.ts";
 * const fetch = async () => new Response("busy", { status: 500 });
 * try {
 *   for await (const event of connect("https://example.com/events", { fetch })) console.log(event);
 * } catch (error) {
 *   if (error instanceof ConnectError && error.reason === "status") console.log(error.status); // 500
 * }
 * ```
 */
export class ConnectError extends Error {
  /** What went wrong; see the class description. */
  readonly reason: "status" | "content-type" | "idle" | "attempts";
  /** The status of the answer that failed the connection (for `"attempts"`, of the last one), if any. */
  readonly status: number | undefined;

  constructor(
    message: string,
    reason: ConnectError["reason"],
    status: number | undefined = undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "ConnectError";
    this.reason = reason;
    this.status = status;
  }
}

/**
 * Connects to an event stream and yields its events, reconnecting as `EventSource` does: after the
 * body ends or the network fails, it waits the reconnection time (3 s, or what the server's
 * `retry` field says), then asks again with `Last-Event-ID`. A 204 answer ends the iteration; any
 * other answer but a 200 `text/event-stream` one fails it with a {@link ConnectError}, as does an
 * {@link EventStreamSizeError} from the parser. With `backoff`, waits grow and jitter, 502/503/504
 * answers are retried too (honouring `Retry-After`), and `maxRetries` bounds the attempts.
 *
 * Nothing is fetched before the first `next()`, and bytes are read only while the iterator waits
 * for an event, so `idleTimeout` counts only that time.
 *
 * @param input The URL, or a `Request` (its method, headers and signal; give a body as `body`).
 * @param options See {@link ConnectOptions}.
 * @returns The connection: an async iterable of events, to iterate once, with `close()`.
 * @throws {TypeError} If an option has the wrong type, the body cannot be sent again on a
 *   reconnect (a `ReadableStream`), or `Request` rejects the URL, method or headers.
 * @throws {RangeError} If a number option is out of range.
 *
 * @example Usage, with an app's handler standing in for the network
 * ```ts
 * import { connect, eventStreamResponse } from "./mod.ts";
 * const handler = (request: Request) =>
 *   eventStreamResponse([{ id: "1", data: "hello" }, { event: "done", data: "bye" }], { signal: request.signal });
 * for await (const event of connect("https://example.com/events", { fetch: async (r) => handler(r) })) {
 *   console.log(event.type, event.data, event.lastEventId); // "message hello 1", then "done bye 1"
 *   if (event.type === "done") break; // closes the connection
 * }
 * ```
 *
 * @example Showing the connection's state
 * ```ts no-run
 * import { connect } from "./mod.ts";
 * const show = (state: string) => console.log(state);
 * const events = connect("https://chat.example.com/rooms/lobby/events", {
 *   backoff: { maxRetries: 20 },
 *   idleTimeout: 45_000, // the server sends a heartbeat comment every 15 s
 *   onOpen: () => show("online"),
 *   onRetry: ({ delay, reason }) => show(`reconnecting in ${Math.ceil(delay / 1000)} s (${reason})`),
 * });
 * for await (const event of events) console.log(event.data);
 * ```
 */
export function connect(input: string | URL | Request, options: ConnectOptions = {}): EventStreamConnection {
  return new Connection(connectSettings(input, options));
}

type Retry = { reason: RetryInfo["reason"]; error: unknown; retryAfter: number | undefined };

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const NONE = Symbol("none");
/** The longest wait a timer can hold (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
const MAX_DELAY = 0x7fff_ffff;
const ignore = (): void => {};

class Connection implements EventStreamConnection {
  readonly #settings: ConnectSettings;
  readonly #parser: Parser;
  readonly #queue: ServerSentEvent[] = [];
  #head = 0;
  #state: EventStreamConnection["readyState"] = "connecting";
  #lastEventId: string;
  #reconnectionTime: number;
  #attempt = 0; // attempts since the connection was last announced
  #retry: Retry | undefined; // set when the connection must be reestablished before the next read
  #failure: unknown = NONE; // thrown once the queue is drained
  #controller: AbortController | undefined; // the current attempt's
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined; // the reconnect wait or the idle watchdog
  #wake: (() => void) | undefined; // ends the reconnect wait early
  #idle = false; // the watchdog dropped the current attempt
  #busy: Promise<unknown> = Promise.resolve(); // one next() at a time
  #pulling = 0; // next() calls not yet settled
  readonly #onAbort = (): void => this.close();

  constructor(settings: ConnectSettings) {
    this.#settings = settings;
    this.#lastEventId = settings.lastEventId;
    this.#reconnectionTime = settings.reconnectionTime;
    const options = {
      onEvent: (event: ServerSentEvent) => void this.#queue.push(event),
      // The `retry` field sets the event source's reconnection time.
      onRetry: (ms: number) => void (this.#reconnectionTime = ms),
      ...(settings.onComment === undefined ? {} : { onComment: settings.onComment }),
      ...(settings.maxEventSize === undefined ? {} : { maxEventSize: settings.maxEventSize }),
    };
    this.#parser = createParser(options);
    if (settings.lastEventId !== "") {
      // Seed the parser's last event ID string (`end()` keeps it, and the next stream's events
      // without an `id` carry it), as if an earlier stream had set it.
      this.#parser.feed(`id: ${settings.lastEventId}\n\n`);
      this.#parser.end();
    }
    // An aborted signal never fires "abort" again: closed from the start, nothing is fetched.
    if (settings.signals.some((signal) => signal.aborted)) this.#state = "closed";
    else for (const signal of settings.signals) signal.addEventListener("abort", this.#onAbort, { once: true });
  }

  get readyState(): EventStreamConnection["readyState"] {
    return this.#state;
  }

  get lastEventId(): string {
    return this.#lastEventId;
  }

  get reconnectionTime(): number {
    return this.#reconnectionTime;
  }

  get url(): string {
    return this.#settings.template.url;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    // Fast path: an event already parsed, and no earlier next() still pending to go first.
    if (this.#pulling === 0 && this.#head < this.#queue.length) {
      return Promise.resolve({ done: false, value: this.#shift() });
    }
    this.#pulling++;
    const result = this.#busy.then(() => this.#pull());
    this.#busy = result.then(this.#settled, this.#settled);
    return result;
  }

  readonly #settled = (): void => {
    this.#pulling--;
  };

  async return(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    this.close();
    return DONE;
  }

  close(): void {
    this.#queue.length = 0;
    this.#head = 0;
    this.#failure = NONE;
    this.#stop();
  }

  async #pull(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    try {
      for (;;) {
        if (this.#head < this.#queue.length) return { done: false, value: this.#shift() };
        if (this.#state === "closed") {
          const failure = this.#failure;
          if (failure === NONE) return DONE;
          this.#failure = NONE;
          throw failure;
        }
        const reader = this.#reader;
        if (reader === undefined) await this.#open();
        else await this.#read(reader);
      }
    } catch (error) {
      this.#stop(); // a hook threw, or the connection failed: nothing more to read either way
      throw error;
    }
  }

  #shift(): ServerSentEvent {
    const event = this.#queue[this.#head++]!;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return event;
  }

  /** One attempt: the reconnect wait if one is due, the fetch, and the response's checks. */
  async #open(): Promise<void> {
    const settings = this.#settings;
    const retry = this.#retry;
    if (retry !== undefined) {
      this.#retry = undefined;
      const attempt = ++this.#attempt;
      const backoff = settings.backoff;
      if (backoff !== undefined && attempt > backoff.maxRetries) {
        const status = retry.error instanceof ConnectError ? retry.error.status : undefined;
        const tries = `${attempt - 1} reconnection attempt${attempt === 2 ? "" : "s"}`;
        const message = `Cannot connect to ${settings.label}: gave up after ${tries} in a row (backoff.maxRetries)`;
        return this.#fail(new ConnectError(message, "attempts", status, { cause: retry.error }));
      }
      // "Reestablish the connection", step 1: back to "connecting" (EventSource fires `error` here).
      this.#state = "connecting";
      // Step 2 waits the reconnection time; step 3 may wait longer after failures (the backoff).
      const delay =
        backoff === undefined
          ? this.#reconnectionTime
          : backoffDelay(backoff, attempt, this.#reconnectionTime, retry.retryAfter);
      settings.onRetry?.({ delay, attempt, reason: retry.reason });
      if (this.#state !== "connecting") return; // closed by the hook
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        this.#timer = setTimeout(resolve, Math.min(delay, MAX_DELAY));
      });
      this.#timer = this.#wake = undefined;
      // Step 5: unless closed meanwhile, fetch the request again, now with `Last-Event-ID` set to
      // the last event ID string when that is not empty (attemptRequest).
      if (this.#state !== "connecting") return;
    }
    const controller = new AbortController();
    this.#controller = controller;
    let request: Request;
    try {
      request = attemptRequest(settings, this.#lastEventId, controller.signal);
    } catch (error) {
      // An id no header can carry: every attempt would fail alike. Reconnecting when the user
      // agent knows it to be futile is where the spec lets it fail the connection instead.
      return this.#fail(error);
    }
    this.#watch();
    let response: Response;
    try {
      response = await untilAborted(settings.fetch(request), controller.signal);
    } catch (error) {
      this.#unwatch();
      if (this.#state === "closed") return;
      // The fetch's response processing, step 2: a network error reestablishes the connection.
      return this.#idle ? this.#reestablish("idle", this.#idleError()) : this.#reestablish("network", error);
    }
    this.#unwatch();
    const body = response.body;
    if (this.#state === "closed") return void body?.cancel().catch(ignore);
    const { status } = response;
    if (status === 204) {
      // "Clients will reconnect if the connection is closed; a client can be told to stop
      // reconnecting using the HTTP 204 No Content response code" (it is not 200, so step 3 fails
      // the connection). The server asked for it: the iteration ends without an error.
      void body?.cancel().catch(ignore);
      return this.close();
    }
    const type = response.headers.get("content-type");
    if (status !== 200 || !isEventStream(type)) {
      void body?.cancel().catch(ignore);
      if (status !== 200) {
        const text = response.statusText === "" ? "" : ` ${response.statusText}`;
        const error = new ConnectError(
          `Cannot connect to ${settings.label}: the server answered ${status}${text}, not 200`,
          "status",
          status,
        );
        // Beyond the spec, with backoff only: a gateway or an overloaded server may answer later.
        if (settings.backoff !== undefined && (status === 502 || status === 503 || status === 504)) {
          return this.#reestablish("status", error, parseRetryAfter(response.headers.get("retry-after"), Date.now()));
        }
        // Step 3: a status other than 200 makes it "fail the connection": no reconnect.
        return this.#fail(error);
      }
      // Step 3: so does a Content-Type other than text/event-stream.
      const received = type === null ? "has no Content-Type" : `is ${JSON.stringify(type)}`;
      const message = `Cannot connect to ${settings.label}: the response ${received}, not text/event-stream`;
      return this.#fail(new ConnectError(message, "content-type", status));
    }
    // Step 4: "announce the connection" (readyState open, the `open` event: onOpen), then
    // interpret the body line by line.
    this.#state = "open";
    this.#attempt = 0;
    settings.onOpen?.(response);
    if (this.#state !== "open") return void body?.cancel().catch(ignore); // closed by the hook
    if (body === null) return this.#reestablish("end", undefined);
    this.#reader = body.getReader();
  }

  /** One read of the body, fed to the parser. */
  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    this.#watch();
    let result: ReadableStreamReadResult<Uint8Array>;
    try {
      result = await reader.read();
    } catch (error) {
      this.#unwatch();
      if (this.#state === "closed") return;
      // The body failed mid-stream (the connection was reset): a network error, so "reestablish
      // the connection".
      return this.#idle ? this.#reestablish("idle", this.#idleError()) : this.#reestablish("network", error);
    }
    this.#unwatch();
    if (this.#state === "closed") return;
    if (result.done) {
      // The watchdog cancelled the body; or the body ended, whose end-of-body step is to
      // "reestablish the connection".
      return this.#idle ? this.#reestablish("idle", this.#idleError()) : this.#reestablish("end", undefined);
    }
    try {
      this.#parser.feed(result.value);
    } catch (error) {
      // An EventStreamSizeError: the events before it are still delivered, then it is thrown.
      return this.#fail(error);
    }
    this.#lastEventId = this.#parser.lastEventId;
  }

  /** "Reestablish the connection": drops the current attempt; the next `#open` waits, then fetches. */
  #reestablish(reason: Retry["reason"], error: unknown, retryAfter?: number): void {
    this.#release();
    // The end of a stream discards an unterminated event; the last event ID string stays.
    this.#parser.end();
    this.#lastEventId = this.#parser.lastEventId;
    if (!this.#settings.reconnect) {
      // One request only: its end is the end (the queued events are still delivered), and what
      // would have reconnected fails the connection instead.
      if (reason === "end") return this.#stop();
      return this.#fail(error);
    }
    this.#retry = { reason, error, retryAfter };
    this.#state = "connecting";
    if (reason !== "end") this.#settings.onError?.(error);
  }

  /** "Fail the connection": closed, never reconnected; the iterator throws `error` once its queue is drained. */
  #fail(error: unknown): void {
    this.#stop();
    this.#failure = error;
    this.#settings.onError?.(error);
  }

  #stop(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#unwatch();
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
    this.#release();
    for (const signal of this.#settings.signals) signal.removeEventListener("abort", this.#onAbort);
  }

  /** Cancels the body and aborts the fetch of the current attempt, if any. */
  #release(): void {
    const reader = this.#reader;
    const controller = this.#controller;
    this.#reader = this.#controller = undefined;
    reader?.cancel().catch(ignore);
    controller?.abort();
  }

  /** The idle watchdog: started before each wait for bytes (the response or a read). */
  #watch(): void {
    this.#idle = false;
    const ms = this.#settings.idleTimeout;
    if (ms === undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // Nothing for `idleTimeout` ms: the connection is dead, whatever TCP thinks. Dropping it
      // settles the pending fetch or read, which then reestablishes the connection.
      this.#idle = true;
      this.#release();
    }, ms);
  }

  #unwatch(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #idleError(): ConnectError {
    const ms = this.#settings.idleTimeout;
    return new ConnectError(
      `The connection to ${this.#settings.label} went idle: nothing received for ${ms} ms (idleTimeout)`,
      "idle",
    );
  }
}

/** `promise`, or a rejection with the signal's reason once it aborts (a fetch stub may ignore it). */
function untilAborted(promise: Promise<Response>, signal: AbortSignal): Promise<Response> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (response) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) void response.body?.cancel().catch(ignore);
        else resolve(response);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/** Whether a Content-Type's essence (type and subtype, without parameters, any case) is text/event-stream. */
function isEventStream(type: string | null): boolean {
  return type !== null && type.split(";", 1)[0]!.trim().toLowerCase() === "text/event-stream";
}
