/**
 * Private to the hubs: how often a person's `typing` reaches a room.
 *
 * @module
 */

/**
 * The shortest time between two `typing` events of one person in one room (PROTOCOL.md): a page
 * may post on every keystroke and the room still hears that person at most every 2 s.
 *
 * @example
 * ```ts
 * import { TYPING_INTERVAL_MS } from "./_typing.ts";
 * console.log(TYPING_INTERVAL_MS); // 2000
 * ```
 */
export const TYPING_INTERVAL_MS = 2000;

/** Throttle entries kept at most: a flood of new user ids forgets the oldest rather than grow. */
const MAX_KEYS = 10_000;

/**
 * Leading-edge throttle per (room, user id): the first call sends, later ones within the interval
 * are absorbed. Its memory is bounded twice: entries are kept in the order they were taken, so
 * those older than the interval are swept from the front on each call, and at most `maxKeys` are
 * kept (past that the oldest is forgotten: that person may be heard once more, which the per-client
 * rate limit bounds).
 *
 * @example
 * ```ts
 * import { TypingThrottle } from "./_typing.ts";
 * let now = 0;
 * const throttle = new TypingThrottle(2000, () => now);
 * throttle.take("lobby", "u1"); // true: send
 * throttle.take("lobby", "u1"); // false: absorbed
 * throttle.take("lobby", "u2"); // true: someone else
 * now = 2000;
 * throttle.take("lobby", "u1"); // true
 * ```
 */
export class TypingThrottle {
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** When each key last sent, oldest first (a Map keeps insertion order; a key is re-inserted when it sends). */
  readonly #sent = new Map<string, number>();

  /**
   * @param intervalMs The shortest time between two sends of one key.
   * @param now A monotonic clock in ms (default `performance.now`: a wall-clock step cannot stall a key).
   * @param maxKeys Entries kept at most.
   */
  constructor(
    intervalMs: number = TYPING_INTERVAL_MS,
    now: () => number = () => performance.now(),
    maxKeys = MAX_KEYS,
  ) {
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /** Entries held now (for tests of the bound). */
  get size(): number {
    return this.#sent.size;
  }

  /** Whether `userId` may send in `room` now; if so, the interval starts again for them. */
  take(room: string, userId: string): boolean {
    const now = this.#now();
    for (const [key, at] of this.#sent) {
      if (now - at < this.#intervalMs) break;
      this.#sent.delete(key);
    }
    // The room's length first: the pair is one unambiguous key whatever either holds.
    const key = `${room.length}:${room}${userId}`;
    if (this.#sent.has(key)) return false;
    if (this.#sent.size >= this.#maxKeys) this.#sent.delete(this.#sent.keys().next().value!);
    this.#sent.set(key, now);
    return true;
  }

  /** Forgets everything (the hub closed). */
  clear(): void {
    this.#sent.clear();
  }
}
