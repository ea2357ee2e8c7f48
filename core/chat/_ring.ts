/**
 * Private to the memory hub: the bounded per-room history.
 *
 * @module
 */

/**
 * A fixed-capacity ring: `push` overwrites the oldest item once full.
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
  readonly #items: Array<T | undefined>;
  #start = 0;
  #length = 0;
  readonly capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.#length;
  }

  push(item: T): void {
    if (this.#length < this.capacity) {
      this.#items[(this.#start + this.#length++) % this.capacity] = item;
    } else {
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
    }
  }

  /** The newest `count` items (clamped to what is held), oldest first. */
  latest(count: number): T[] {
    const n = Math.max(0, Math.min(count, this.#length));
    const out: T[] = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.#items[(this.#start + this.#length - n + i) % this.capacity]!;
    return out;
  }
}
