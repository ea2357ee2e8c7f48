/**
 * Event-stream bytes to an async iterable of events, for fetch-based clients. It reads the body
 * and runs the push parser directly: no stream step per event.
 *
 * @module
 */
import { createParser } from "./create-parser.ts";
import type { ParserOptions, ServerSentEvent } from "./types.ts";

/**
 * Parses an event stream body into events, in order. Breaking out of the loop (or `signal`
 * aborting) cancels the body. A size bound breach rejects with {@link EventStreamSizeError}.
 *
 * @param body The response body, e.g. `(await fetch(url)).body`.
 * @param options Parser options, plus `signal` to stop reading.
 * @returns An async iterable of events; iterate it once.
 * @throws {TypeError} If `body` is not a `ReadableStream`.
 *
 * @example Usage
 * ```ts no-run
 * import { parseEventStream } from "./mod.ts";
 * const response = await fetch("https://example.com/events");
 * for await (const event of parseEventStream(response.body!)) {
 *   if (event.type === "done") break;
 *   console.log(event.data);
 * }
 * ```
 */
export function parseEventStream(
  body: ReadableStream<Uint8Array>,
  options: ParserOptions & { signal?: AbortSignal } = {},
): AsyncIterableIterator<ServerSentEvent> {
  if (typeof (body as { getReader?: unknown } | null)?.getReader !== "function") {
    throw new TypeError(
      `Cannot parse event stream: "body" must be a ReadableStream, received ${body === null ? "null" : typeof body}`,
    );
  }
  return new EventIterator(body.getReader(), options);
}

// A hand-written iterator: buffered events are returned without touching the stream, and one
// `read()` serves every event in its chunk.
class EventIterator implements AsyncIterableIterator<ServerSentEvent> {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #parser: ReturnType<typeof createParser>;
  readonly #queue: ServerSentEvent[] = [];
  readonly #signal: AbortSignal | undefined;
  #head = 0;
  #done = false;
  // Removed once the iteration ends, so a long-lived signal does not keep every parse alive.
  readonly #onAbort = (): void => void this.return();

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>, options: ParserOptions & { signal?: AbortSignal }) {
    this.#reader = reader;
    this.#signal = options.signal;
    this.#parser = createParser({ ...options, onEvent: (event) => this.#queue.push(event) });
    // An already-aborted signal never fires "abort": stop now, before the first read.
    if (this.#signal?.aborted) void this.return();
    else this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    // An event already parsed needs no async step of its own: most events of a chunk go this way.
    if (this.#head < this.#queue.length) return Promise.resolve({ done: false, value: this.#take() });
    return this.#read();
  }

  #take(): ServerSentEvent {
    const value = this.#queue[this.#head++]!;
    if (this.#head === this.#queue.length) {
      this.#queue.length = 0;
      this.#head = 0;
    }
    return value;
  }

  async #read(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    for (;;) {
      if (this.#head < this.#queue.length) return { done: false, value: this.#take() };
      if (this.#done) return { done: true, value: undefined };
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await this.#reader.read();
        if (result.done) {
          this.#done = true;
          this.#signal?.removeEventListener("abort", this.#onAbort);
          this.#parser.end();
        } else {
          this.#parser.feed(result.value);
        }
      } catch (error) {
        if (this.#done) return { done: true, value: undefined }; // cancelled by return()
        await this.#stop(error);
        throw error;
      }
    }
  }

  async return(): Promise<IteratorResult<ServerSentEvent, undefined>> {
    await this.#stop(this.#signal?.reason);
    return { done: true, value: undefined };
  }

  async #stop(reason: unknown): Promise<void> {
    this.#signal?.removeEventListener("abort", this.#onAbort);
    if (this.#done && this.#queue.length === 0) return;
    this.#done = true;
    this.#queue.length = 0;
    this.#head = 0;
    try {
      await this.#reader.cancel(reason);
    } catch {
      // The body already failed; there is nothing left to release.
    }
  }
}
