/**
 * Private to the memory hub: one subscriber's queue and its async iterator.
 *
 * @module
 */
import { type EventMessage, PUSH_SOURCE, type PushConsumer } from "../mod.ts";
import type { Subscription } from "./hub.ts";

/**
 * One subscriber: a hand-written async iterator. An async generator would not do: its
 * `return()` waits for a pending `next()` to settle, so a subscriber waiting for the next event
 * could not be freed until one arrived.
 *
 * It is also a push source (`PUSH_SOURCE`): an event stream attaches to it, gets the backlog at
 * once, and from then on each live event is handed straight to the stream — no queue here, no
 * promise per event. The stream bounds what its reader may leave unread, in bytes, and detaches
 * (which unsubscribes) when it cuts a slow reader.
 *
 * @example
 * ```ts
 * import { MemorySubscription } from "./_subscription.ts";
 * const subscription = new MemorySubscription([{ data: "replayed" }], 1024, () => {}, undefined, "lobby");
 * subscription.push({ data: "live" }); // true: queued
 * await subscription.next(); // { done: false, value: { data: "replayed" } }
 * ```
 */
export class MemorySubscription<Tag = unknown> implements Subscription {
  #backlog: EventMessage[];
  #backlogHead = 0;
  #queue: EventMessage[] = [];
  #queueHead = 0;
  readonly #waiters: Array<(result: IteratorResult<EventMessage, undefined>) => void> = [];
  readonly #limit: number;
  readonly #onLeave: (subscription: MemorySubscription<Tag>) => void;
  /** The owner's note on this subscriber (the hub's room), so one `onLeave` serves them all. */
  readonly tag: Tag;
  #signal: AbortSignal | undefined;
  #consumer: PushConsumer | undefined;
  #done = false;
  /** Events of the backlog: the replayed history, a reset, running replies so far. */
  readonly replayed: number;

  static ended(): MemorySubscription<undefined> {
    const subscription = new MemorySubscription<undefined>([], 1, () => {}, undefined, undefined);
    subscription.end();
    return subscription;
  }

  constructor(
    backlog: EventMessage[],
    limit: number,
    onLeave: (s: MemorySubscription<Tag>) => void,
    signal: AbortSignal | undefined,
    tag: Tag,
  ) {
    this.tag = tag;
    this.#backlog = backlog;
    this.replayed = backlog.length;
    this.#limit = limit;
    this.#onLeave = onLeave;
    this.#signal = signal;
    signal?.addEventListener("abort", this, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The request's signal aborted (this object is its own listener: no closure per subscriber). */
  handleEvent(): void {
    void this.return();
  }

  [PUSH_SOURCE](consumer: PushConsumer): () => void {
    if (this.#consumer === undefined && !this.#done) {
      this.#consumer = consumer;
      // The consumer owns this subscription's life from now on (it detaches on cancel, cut or
      // abort), so stop holding the request's signal, which would keep its objects alive.
      this.#signal?.removeEventListener("abort", this);
      this.#signal = undefined;
      const backlog = this.#backlog.slice(this.#backlogHead).concat(this.#queue.slice(this.#queueHead));
      this.#backlog = [];
      this.#queue = [];
      this.#queueHead = 0;
      for (const item of backlog) consumer.push(item);
    } else if (this.#done) consumer.end();
    return () => void this.return();
  }

  next(): Promise<IteratorResult<EventMessage, undefined>> {
    if (this.#backlogHead < this.#backlog.length) {
      const value = this.#backlog[this.#backlogHead++]!;
      if (this.#backlogHead === this.#backlog.length) this.#backlog = [];
      return Promise.resolve({ done: false, value });
    }
    if (this.#queueHead < this.#queue.length) {
      const value = this.#queue[this.#queueHead++]!;
      if (this.#queueHead === this.#queue.length) {
        this.#queue = [];
        this.#queueHead = 0;
      }
      return Promise.resolve({ done: false, value });
    }
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  return(): Promise<IteratorResult<EventMessage, undefined>> {
    if (!this.#done) {
      this.end();
      this.#onLeave(this);
    }
    return Promise.resolve({ done: true, value: undefined });
  }

  /** Delivers a live event; `false` means the queue overflowed and the subscriber is now ended. */
  push(value: EventMessage): boolean {
    if (this.#done) return true;
    if (this.#consumer !== undefined) {
      this.#consumer.push(value); // may detach (and so unsubscribe) a reader it cuts
      return true;
    }
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter({ done: false, value });
      return true;
    }
    if (this.#queue.length - this.#queueHead >= this.#limit) {
      this.end();
      return false;
    }
    this.#queue.push(value);
    return true;
  }

  /** Ends the iterator and frees its buffers, without notifying the hub. Idempotent. */
  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.#backlog = [];
    this.#queue = [];
    this.#queueHead = 0;
    this.#signal?.removeEventListener("abort", this);
    for (const waiter of this.#waiters.splice(0)) waiter({ done: true, value: undefined });
    const consumer = this.#consumer;
    this.#consumer = undefined;
    consumer?.end();
  }
}
