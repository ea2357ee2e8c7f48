/**
 * Private to the memory hub: one subscriber's queue and its async iterator.
 *
 * @module
 */
import type { EventMessage } from "../mod.ts";
import type { Subscription } from "./hub.ts";

/**
 * One subscriber: a hand-written async iterator. An async generator would not do: its
 * `return()` waits for a pending `next()` to settle, so a subscriber waiting for the next event
 * could not be freed until one arrived.
 *
 * @example
 * ```ts
 * import { MemorySubscription } from "./_subscription.ts";
 * const subscription = new MemorySubscription([{ data: "replayed" }], 1024, () => {}, undefined);
 * subscription.push({ data: "live" }); // true: queued
 * await subscription.next(); // { done: false, value: { data: "replayed" } }
 * ```
 */
export class MemorySubscription implements Subscription {
  #backlog: EventMessage[];
  #backlogHead = 0;
  #queue: EventMessage[] = [];
  #queueHead = 0;
  readonly #waiters: Array<(result: IteratorResult<EventMessage, undefined>) => void> = [];
  readonly #limit: number;
  readonly #onLeave: (subscription: MemorySubscription) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.return();
  #done = false;

  static ended(): MemorySubscription {
    const subscription = new MemorySubscription([], 1, () => {}, undefined);
    subscription.end();
    return subscription;
  }

  constructor(
    backlog: EventMessage[],
    limit: number,
    onLeave: (s: MemorySubscription) => void,
    signal: AbortSignal | undefined,
  ) {
    this.#backlog = backlog;
    this.#limit = limit;
    this.#onLeave = onLeave;
    this.#signal = signal;
    signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
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
    this.#signal?.removeEventListener("abort", this.#onAbort);
    for (const waiter of this.#waiters.splice(0)) waiter({ done: true, value: undefined });
  }
}
