/**
 * An iterable of messages to an event-stream byte stream, pulled at the consumer's pace.
 *
 * @module
 */
import { checkNumber } from "./_check.ts";
import { type PushStreamHandle, pushEventStream, pushStream } from "./_push-stream.ts";
import { encodeComment, encodeEvent } from "./encode.ts";
import { EncodedEvent, frameOf } from "./encoded-event.ts";
import { PUSH_SOURCE, type PushSource } from "./push-source.ts";
import type { EventMessage, EventStreamOptions, MessageSource } from "./types.ts";

/** A frame batch is flushed once it holds this many characters... */
const BATCH_CHARS = 16 * 1024;
/** ...or this many messages, so a consumer that stops reading stops the source soon after. */
const BATCH_MESSAGES = 128;
/** Microtask turns to wait for the next message before calling the source idle: an async
 * generator that yields at once settles in 2 turns, one wrapped in another for-await in 4. Once
 * a source has shown how fast its ready messages settle, only that many turns (+1) are waited,
 * so an idle fan-out subscription (settles in 1) does not pay for 8 turns per message. */
const READY_TURNS = 8;

type Item = EventMessage | EncodedEvent | string;
type Step = IteratorResult<Item>;
// One pull's output. `error`: the source failed after the frames in `chunk`, which still go out.
type Batch = { chunk: Chunk; done: boolean; error?: { value: unknown } };
type Iter = Iterator<Item> | AsyncIterator<Item>;

/**
 * Turns a sync or async iterable of messages into a `ReadableStream` of SSE bytes.
 *
 * - Pull-based: the source advances only when the consumer reads; messages that are ready
 *   together (sync sources, or async ones that resolve within a few microtask turns) are
 *   coalesced into one chunk of at most 16 KiB or 128 messages.
 * - `heartbeat`: while the source is idle and the consumer waits, a `:` comment line every
 *   `heartbeat` ms keeps proxies and clients from timing the connection out.
 * - Cancelling the stream (the client went away) or aborting `signal` runs the iterator's
 *   `return()`, so a generator's `finally` blocks free what it holds. A source that waits on
 *   something should also watch the same signal: an async generator runs `return()` only after
 *   its pending `next()` settles.
 * - A source that throws, or yields a message `encodeEvent` rejects, ends the stream cleanly;
 *   the error goes to `onError` (default `console.error`), never to the client.
 * - A {@link PushSource} (a hub subscription) is not pulled: it pushes each event, which is
 *   written at once; a server mount may take the bytes straight to the connection with
 *   `attachSink`. A reader that leaves more than `maxBufferedBytes` unread, or blocks a write for
 *   `writeTimeout` ms, is cut. Its heartbeats share one timer with every other such stream.
 *
 * @param source The messages; a string item is shorthand for `{ data: item }`.
 * @param options `heartbeat`, `retry`, `signal`, `onError`; for push sources `maxBufferedBytes`,
 *   `writeTimeout`, `observer`.
 * @returns A byte stream for a `Response` body.
 * @throws {TypeError} If `source` is not iterable (or is a string), or an option has the wrong type.
 * @throws {RangeError} If `heartbeat` is not a positive finite number or `retry` is invalid.
 *
 * @example Usage
 * ```ts
 * import { toEventStream } from "./mod.ts";
 * async function* clock(signal: AbortSignal) {
 *   while (!signal.aborted) {
 *     yield { event: "tick", data: new Date().toISOString() };
 *     await new Promise((resolve) => setTimeout(resolve, 1000));
 *   }
 * }
 * const controller = new AbortController();
 * const body = toEventStream(clock(controller.signal), { heartbeat: 15_000, signal: controller.signal });
 * ```
 */
export function toEventStream(source: MessageSource, options: EventStreamOptions = {}): ReadableStream<Uint8Array> {
  checkOptions(options);
  if (isPushSource(source)) return pushEventStream(source, options);
  const { heartbeat, signal } = options;
  const onError = options.onError ?? ((error: unknown) => console.error("eddy: event stream source failed:", error));
  const head = options.retry === undefined ? "" : encodeEvent({ retry: options.retry });
  const iterator = iteratorOf(source as Exclude<MessageSource, PushSource>);
  const isSync = !(Symbol.asyncIterator in (source as object));
  const encoder = new TextEncoder();
  let pending: Promise<Step> | undefined; // an async next() still owed to the consumer
  let finished = false;
  let turns = READY_TURNS; // how long to wait for a ready message; learned from the source
  let sentSinceArmed = false; // bytes went out since the heartbeat timer was (re-)armed
  let timer: ReturnType<typeof setTimeout> | undefined; // the heartbeat timer, while armed
  let wake: ((step: undefined) => void) | undefined; // ends a pull's idle wait with a heartbeat
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | undefined;

  // Ends the stream from our side and lets the source clean up. Idempotent.
  const finish = (runReturn: boolean, reason?: unknown): void => {
    if (finished) return;
    finished = true;
    if (timer !== undefined) clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    try {
      controllerRef?.close();
    } catch {
      // Already closed or cancelled by the consumer.
    }
    if (runReturn) closeIterator(iterator, reason, onError);
  };
  const fail = (error: unknown): void => {
    if (finished) return;
    onError(error);
    finish(true, error);
  };
  const onAbort = () => finish(true, signal?.reason);

  // Heartbeats: one timer per stream, armed when a pull starts waiting on an idle source and
  // not per message. When it fires it wakes the waiting pull only if nothing was sent since it
  // was armed; otherwise it re-arms while a pull still waits. It reads no clock, so fake timers
  // drive it exactly, and it holds no reference to the source's promises.
  const armHeartbeat = (ms: number): void => {
    if (timer !== undefined) return;
    sentSinceArmed = false;
    timer = setTimeout(() => {
      timer = undefined;
      if (finished || wake === undefined) return;
      if (sentSinceArmed) return armHeartbeat(ms);
      const waiting = wake;
      wake = undefined;
      waiting(undefined);
    }, ms);
  };
  const idleWait = (next: Promise<Step>, ms: number): Promise<Step | undefined> =>
    new Promise<Step | undefined>((resolve, reject) => {
      wake = resolve;
      next.then(resolve, reject);
      armHeartbeat(ms);
    }).finally(() => (wake = undefined));

  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller;
        if (head !== "") controller.enqueue(encoder.encode(head));
        if (signal?.aborted) return finish(true, signal.reason);
        signal?.addEventListener("abort", onAbort, { once: true });
      },
      async pull(controller) {
        try {
          const frame = isSync ? pullSync(iterator as Iterator<Item>) : await pullAsync();
          if (finished) return;
          if (frame.chunk.size > 0) {
            controller.enqueue(frame.chunk.bytes(encoder));
            sentSinceArmed = true;
          }
          if (frame.error !== undefined) fail(frame.error.value);
          else if (frame.done) finish(false);
        } catch (error) {
          fail(error);
        }
      },
      cancel(reason) {
        finish(true, reason);
      },
    },
    { highWaterMark: 0 },
  );

  async function pullAsync(): Promise<Batch> {
    const it = iterator as AsyncIterator<Item>;
    // A next() left pending by the last pull was not ready then: the source is probably idle, so
    // wait for it at once instead of polling it for a few turns first.
    const wasIdle = pending !== undefined;
    let next = pending ?? it.next();
    pending = undefined;
    let step = wasIdle ? undefined : await settledSoon(next, turns);
    if (step === undefined) {
      // The source is idle: wait for it, sending heartbeats meanwhile if asked to.
      if (heartbeat === undefined) step = await next;
      else {
        step = await idleWait(next, heartbeat);
        if (step === undefined) {
          pending = next;
          return { chunk: new Chunk().addText(encodeComment("")), done: false };
        }
      }
    }
    const chunk = new Chunk();
    if (step.done) return { chunk, done: true };
    chunk.add(step.value);
    try {
      for (let count = 1; count < BATCH_MESSAGES && chunk.size < BATCH_CHARS && !finished; count++) {
        next = it.next();
        step = await settledSoon(next, turns);
        if (step === undefined) {
          pending = next;
          break;
        }
        if (step.done) return { chunk, done: true };
        chunk.add(step.value);
      }
    } catch (error) {
      return { chunk, done: true, error: { value: error } };
    }
    return { chunk, done: false };
  }

  // Resolves to the step if `next` settles within `maxTurns` microtask turns, else to undefined
  // (a rejection is rethrown); learns how many turns this source's ready messages take. Either
  // way `next` keeps a handler, so no rejection goes unhandled.
  async function settledSoon(next: Promise<Step>, maxTurns: number): Promise<Step | undefined> {
    let step: Step | undefined;
    let error: { value: unknown } | undefined;
    next.then(
      (s) => (step = s),
      (e: unknown) => (error = { value: e }),
    );
    let turn = 0;
    while (turn < maxTurns && step === undefined && error === undefined) {
      await undefined;
      turn++;
    }
    if (error !== undefined) throw error.value;
    if (step !== undefined && turn > 0 && (turns === READY_TURNS || turn + 1 > turns))
      turns = Math.min(READY_TURNS, turn + 1);
    return step;
  }
}

/**
 * Internal (for `eventStreamResponse`): the stream of a push source without its readable side,
 * its options checked as {@link toEventStream} checks them; `undefined` for any other source.
 *
 * @param source The messages.
 * @param options The stream options.
 * @returns The stream, not yet started, or `undefined`.
 * @throws {TypeError | RangeError} As {@link toEventStream} does for a bad option.
 *
 * @example
 * ```ts
 * import { PUSH_SOURCE } from "./push-source.ts";
 * import { pushStreamOf } from "./to-event-stream.ts";
 * console.log(pushStreamOf(["pulled"], {})); // undefined: not a push source
 * const stream = pushStreamOf({ [PUSH_SOURCE]: () => () => {} }, { heartbeat: 15_000 });
 * stream?.cancel();
 * ```
 */
export function pushStreamOf(source: MessageSource, options: EventStreamOptions): PushStreamHandle | undefined {
  if (!isPushSource(source)) return undefined;
  checkOptions(options);
  return pushStream(source, options);
}

/** Frozen options objects already checked: a server passes the same one to every stream. */
const CHECKED = new WeakSet<EventStreamOptions>();

function checkOptions(options: EventStreamOptions): void {
  if (CHECKED.has(options)) return;
  const action = "Cannot create event stream";
  if (options.heartbeat !== undefined) {
    checkNumber(options.heartbeat, "a positive finite number", action, "heartbeat", "milliseconds");
  }
  if (options.maxBufferedBytes !== undefined) {
    checkNumber(options.maxBufferedBytes, "a positive number", action, "maxBufferedBytes");
  }
  if (options.maxBufferedEvents !== undefined) {
    checkNumber(options.maxBufferedEvents, "a positive number", action, "maxBufferedEvents");
  }
  if (options.writeTimeout !== undefined) {
    checkNumber(options.writeTimeout, "a positive finite number", action, "writeTimeout", "milliseconds");
  }
  // A push stream writes the retry line when it starts: validate it now, as a pulled one does.
  if (options.retry !== undefined) encodeEvent({ retry: options.retry });
  if (Object.isFrozen(options)) CHECKED.add(options);
}

function pullSync(it: Iterator<Item>): Batch {
  const chunk = new Chunk();
  try {
    for (let count = 0; count < BATCH_MESSAGES && chunk.size < BATCH_CHARS; count++) {
      const step = it.next();
      if (step.done) return { chunk, done: true };
      chunk.add(step.value);
    }
  } catch (error) {
    return { chunk, done: true, error: { value: error } };
  }
  return { chunk, done: false };
}

/**
 * The frames of one batch: text for messages framed here (encoded once per batch), and the
 * bytes of {@link EncodedEvent}s as they are, so a shared frame is never decoded or copied when
 * it is alone in its chunk.
 */
class Chunk {
  #parts: Uint8Array[] = [];
  #text = "";
  /** Characters of text plus bytes so far (what the batch bound counts). */
  size = 0;

  add(item: Item): this {
    if (!(item instanceof EncodedEvent) || item.bytes === undefined) return this.addText(frameOf(item));
    if (this.#text !== "") this.#flush(UTF8);
    this.#parts.push(item.bytes);
    this.size += item.bytes.byteLength;
    return this;
  }

  addText(text: string): this {
    this.#text += text;
    this.size += text.length;
    return this;
  }

  bytes(encoder: TextEncoder): Uint8Array {
    if (this.#text !== "") this.#flush(encoder);
    if (this.#parts.length === 1) return this.#parts[0]!;
    const out = new Uint8Array(this.#parts.reduce((sum, part) => sum + part.byteLength, 0));
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.byteLength;
    }
    return out;
  }

  #flush(encoder: TextEncoder): void {
    this.#parts.push(encoder.encode(this.#text));
    this.#text = "";
  }
}

const UTF8 = new TextEncoder();

function isPushSource(source: MessageSource): source is PushSource {
  return (
    typeof source === "object" && source !== null && typeof (source as Partial<PushSource>)[PUSH_SOURCE] === "function"
  );
}

function iteratorOf(source: Exclude<MessageSource, PushSource>): Iter {
  if (typeof source === "string") {
    throw new TypeError(
      'Cannot create event stream: "source" must be an iterable of messages, received a string (wrap it: [text])',
    );
  }
  const candidate = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  if ((candidate !== null && typeof candidate === "object") || typeof candidate === "function") {
    if (typeof candidate![Symbol.asyncIterator] === "function")
      return (source as AsyncIterable<Item>)[Symbol.asyncIterator]();
    if (typeof candidate![Symbol.iterator] === "function") return (source as Iterable<Item>)[Symbol.iterator]();
  }
  throw new TypeError(
    `Cannot create event stream: "source" must be an iterable or async iterable, received ${source === null ? "null" : typeof source}`,
  );
}

function closeIterator(iterator: Iter, reason: unknown, onError: (error: unknown) => void): void {
  try {
    const result = iterator.return?.(reason as never);
    if (result instanceof Promise) result.catch(onError);
  } catch (error) {
    onError(error);
  }
}
