/**
 * The spec's *interpreting an event stream* state: data and event-type buffers, the persistent
 * last event ID, and dispatch. Field parsing lives in `parse.ts`; this file never sees raw lines.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * @module
 */
import { EventStreamSizeError } from "./errors.ts";
import type { ServerSentEvent } from "./types.ts";

/** Receives the fields `parseLine` recognises; the interpreter below is the only implementation. */
export interface FieldSink {
  data(value: string): void;
  event(value: string): void;
  id(value: string): void;
  retry(value: string): void;
  comment(text: string): void;
  dispatch(): void;
}

/** Interpreter state for one event stream connection. Internal: use `createParser`. */
export class EventInterpreter implements FieldSink {
  /**
   * The last event ID *string*, what a reconnecting client sends: dispatch copies the buffer into
   * it (HTML §9.2.6, dispatch step 1), so the id of a block that never completed does not count.
   * Both persist across events.
   */
  lastEventId = "";
  #idBuffer = ""; // the last event ID buffer
  // The data buffer. `undefined` stands for the spec's empty buffer; otherwise it holds the
  // buffer without its final LF, which dispatch would remove anyway (HTML §9.2.6, dispatch step 3).
  #data: string | undefined = undefined;
  #type = "";
  readonly #onEvent: (event: ServerSentEvent) => void;
  readonly #onRetry: ((ms: number) => void) | undefined;
  readonly #onComment: ((text: string) => void) | undefined;
  readonly #maxEventSize: number;

  constructor(
    onEvent: (event: ServerSentEvent) => void,
    onRetry: ((ms: number) => void) | undefined,
    onComment: ((text: string) => void) | undefined,
    maxEventSize: number,
  ) {
    this.#onEvent = onEvent;
    this.#onRetry = onRetry;
    this.#onComment = onComment;
    this.#maxEventSize = maxEventSize;
  }

  /** "data": append the value, then a LF, to the data buffer. */
  data(value: string): void {
    const data = this.#data === undefined ? value : this.#data + "\n" + value;
    if (data.length > this.#maxEventSize) throw new EventStreamSizeError("event", data.length, this.#maxEventSize);
    this.#data = data;
  }

  /** "event": set the event type buffer to the value (an empty value restores the default). */
  event(value: string): void {
    this.#type = value;
  }

  /** "id": set the last event ID buffer unless the value contains U+0000 NULL. */
  id(value: string): void {
    if (value.indexOf("\0") === -1) this.#idBuffer = value;
  }

  /** "retry": apply it now, but only when the value is one or more ASCII digits. */
  retry(value: string): void {
    if (value.length === 0) return;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 0x30 || c > 0x39) return;
    }
    this.#onRetry?.(Number.parseInt(value, 10));
  }

  /** A line starting with U+003A COLON: ignored by the spec, reported here on request. */
  comment(text: string): void {
    this.#onComment?.(text);
  }

  /** HTML §9.2.6, "dispatch the event" (on an empty line). */
  dispatch(): void {
    // Step 1: the last event ID string takes the buffer's value, even if nothing is dispatched.
    this.lastEventId = this.#idBuffer;
    const data = this.#data;
    const type = this.#type;
    // Both buffers reset whatever happens next; the last event ID buffer does not.
    this.#data = undefined;
    this.#type = "";
    // Step 2: an empty data buffer dispatches nothing.
    if (data === undefined) return;
    // Steps 4-5: the type defaults to "message"; the event carries the last event ID string.
    this.#onEvent({ type: type === "" ? "message" : type, data, lastEventId: this.lastEventId });
  }

  /**
   * End of stream: an event without its blank line is discarded (HTML §9.2.6, last paragraph).
   * The last event ID string stays (a reconnecting `EventSource` sends it) and seeds the next
   * stream's buffer, as browsers do (Chromium's parser starts from the source's last event ID);
   * the spec text would start that buffer empty, which loses the cursor on the first event
   * without an `id` after a reconnect.
   */
  discardPending(): void {
    this.#idBuffer = this.lastEventId;
    this.#data = undefined;
    this.#type = "";
  }
}
