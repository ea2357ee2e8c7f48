/**
 * Private to the memory hub: the bounded per-room history.
 *
 * @module
 */

/**
 * A bounded ring: `push` overwrites the oldest item once full. Its array grows by doubling up to
 * `capacity` as items arrive, so 10 000 rooms with a message each cost 10 000 small arrays, not
 * 10 000 arrays of `capacity` slots (at 500 slots, 40 MB of empty slots).
 *
 * @example
 * ```ts
 * import { Ring } from "./_ring.ts";
 * const ring = new Ring<number>(2);
 * for (const n of [1, 2, 3]) ring.push(n);
 * ring.latest(5); // [2, 3]
 * ```
 */
export class Ring<T> {
  #items: Array<T | undefined>;
  #start = 0;
  #length = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(Math.min(capacity, 4));
  }

  /** Makes room for one more item while below capacity: a doubled array, oldest item first. */
  #grow(): void {
    const size = this.#items.length;
    if (this.#length < size || size === this.capacity) return;
    const items = new Array<T | undefined>(Math.min(this.capacity, size * 2));
    for (let i = 0; i < this.#length; i++) items[i] = this.#items[(this.#start + i) % size];
    this.#items = items;
    this.#start = 0;
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length < this.capacity) {
      this.#grow();
      this.#items[(this.#start + this.#length++) % this.#items.length] = item;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** The oldest item held, or `undefined` when empty. */
  oldest(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#start];
  }

  /** Removes and returns the oldest item (`undefined` when empty). */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#start];
    this.#items[this.#start] = undefined;
    this.#start = (this.#start + 1) % this.#items.length;
    this.#length--;
    return item;
  }

  /**
   * Adds `item` as the newest; when full, the oldest is overwritten and returned.
   *
   * @returns The item that fell out, if any.
   */
  add(item: T): T | undefined {
    const dropped = this.#length === this.capacity ? this.#items[this.#start] : undefined;
    this.push(item);
    return dropped;
  }

  /** The newest `count` items (clamped to what is held), oldest first. */
  latest(count: number): T[] {
    const n = Math.max(0, Math.min(count, this.#length));
    const out: T[] = new Array<T>(n);
    const size = this.#items.length;
    for (let i = 0; i < n; i++) out[i] = this.#items[(this.#start + this.#length - n + i) % size]!;
    return out;
  }
}
