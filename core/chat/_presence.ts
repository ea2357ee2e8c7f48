/**
 * Private to the hubs: how often a room tells its subscribers its head count.
 *
 * @module
 */

/**
 * Rate-limits one room's `presence` events: the first change is announced at once (leading edge),
 * later ones wait for the interval and are folded into one trailing event with the latest count.
 * The interval stretches in big rooms (half a millisecond per subscriber, at most 5 s) so that
 * presence traffic, which reaches everyone, stays bounded however many join at once: a
 * 10 000-subscriber room sends a count at most every 5 s, i.e. 2 000 writes per second, not one
 * event per arrival per reader.
 *
 * @example
 * ```ts
 * import { PresenceGate } from "./_presence.ts";
 * let subscribers = 1;
 * const gate = new PresenceGate(1000, () => subscribers, (count) => console.log("presence", count));
 * gate.changed(); // "presence 1" now
 * subscribers = 2;
 * gate.changed(); // folded: "presence 2" once the interval has passed
 * gate.stop();
 * ```
 */
export class PresenceGate {
  readonly #intervalMs: number;
  readonly #count: () => number;
  readonly #broadcast: (count: number) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #dirty = false;
  /** A broadcast is under way: a change it causes (a reader it cuts leaves) must wait for the timer. */
  #announcing = false;
  #stopped = false;

  /**
   * @param intervalMs The shortest time between two events (0: every change, after the one under way).
   * @param count The room's current head count.
   * @param broadcast Sends the event with that count to the room's subscribers.
   */
  constructor(intervalMs: number, count: () => number, broadcast: (count: number) => void) {
    this.#intervalMs = intervalMs;
    this.#count = count;
    this.#broadcast = broadcast;
  }

  /** The head count changed: announce it now or when the interval allows. */
  changed(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined || this.#announcing) {
      this.#dirty = true;
      return;
    }
    // The timer is armed before the broadcast: a subscriber the broadcast cuts leaves the room
    // during it, and its presence change must wait for the timer, not start a nested broadcast
    // (one per cut reader: with thousands cut at once, that recursion overflowed the stack).
    const count = this.#count();
    if (this.#intervalMs > 0) {
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined;
          if (!this.#dirty) return;
          this.#dirty = false;
          this.changed();
        },
        stretched(this.#intervalMs, count),
      );
    }
    this.#announcing = true;
    try {
      this.#broadcast(count);
    } finally {
      this.#announcing = false;
    }
    // Without an interval, changes made during the broadcast are announced right after it.
    if (this.#intervalMs === 0 && this.#dirty) {
      this.#dirty = false;
      this.changed();
    }
  }

  /** Cancels a pending trailing event; later changes are ignored. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

const MAX_PRESENCE_INTERVAL_MS = 5000;

function stretched(base: number, subscribers: number): number {
  return Math.max(base, Math.min(MAX_PRESENCE_INTERVAL_MS, subscribers / 2));
}
