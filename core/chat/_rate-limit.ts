/**
 * Private: per-client token buckets (posts, new streams, new rooms) and how a client is named.
 *
 * @module
 */

/**
 * A token bucket per key: `burst` tokens at most, refilled at `perSecond`. A key's bucket is
 * created full on first use. At most `maxKeys` buckets are kept; past that the longest-unused
 * ones are forgotten (a forgotten client starts again with a full bucket: lenient, bounded).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./_rate-limit.ts";
 * let now = 0;
 * const posts = new RateLimiter(2, 1, () => now);
 * posts.take("10.0.0.1"); // 0: allowed
 * posts.take("10.0.0.1"); // 0
 * posts.take("10.0.0.1"); // 1: wait a second
 * now = 1000;
 * posts.take("10.0.0.1"); // 0
 * ```
 */
export class RateLimiter {
  readonly #burst: number;
  readonly #perMs: number;
  readonly #now: () => number;
  readonly #maxKeys: number;
  /** Tokens and the time they were counted, per key; Map order is least recently used first. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(burst: number, perSecond: number, now: () => number = Date.now, maxKeys = 100_000) {
    this.#burst = burst;
    this.#perMs = perSecond / 1000;
    this.#now = now;
    this.#maxKeys = maxKeys;
  }

  /**
   * Takes one token for `key`.
   *
   * @returns 0 when allowed; otherwise the whole seconds until a token is back (for `Retry-After`).
   */
  take(key: string): number {
    const now = this.#now();
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now };
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
    } else {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + (now - bucket.at) * this.#perMs);
      bucket.at = now;
      this.#buckets.delete(key); // re-inserted below: now the most recently used
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.#perMs / 1000));
  }
}

/**
 * The new-room limit: one token from the client's bucket per room it creates, charged once per
 * room however many requests race to create it. Requests that open a room nobody is in yet all
 * find it missing until the first of them has joined it (50 tabs opened at once, a page's stream
 * and its first post); each would otherwise pay for the same room. A room charged within the last
 * `windowMs` is free; at most `maxRooms` such rooms are remembered (forgetting one only means a
 * late racer pays: bounded, and never more lenient than one room per token).
 *
 * @example
 * ```ts
 * import { NewRoomLimiter, RateLimiter } from "./_rate-limit.ts";
 * const rooms = new NewRoomLimiter(new RateLimiter(1, 0.1));
 * rooms.take("10.0.0.1", "lobby"); // 0: allowed, the client's one token taken
 * rooms.take("10.0.0.1", "lobby"); // 0: the same room, racing: free
 * rooms.take("10.0.0.1", "kitchen"); // 10: wait 10 s
 * ```
 */
export class NewRoomLimiter {
  readonly #limiter: RateLimiter;
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #maxRooms: number;
  /** When each recently charged room's charge lapses; Map order is oldest charge first. */
  readonly #charged = new Map<string, number>();

  constructor(limiter: RateLimiter, now: () => number = Date.now, windowMs = 10_000, maxRooms = 10_000) {
    this.#limiter = limiter;
    this.#now = now;
    this.#windowMs = windowMs;
    this.#maxRooms = maxRooms;
  }

  /**
   * Charges `client` for creating `room` (which the caller found missing), unless it was charged
   * for within the window.
   *
   * @returns 0 when allowed; otherwise the whole seconds until the client may create a room.
   */
  take(client: string, room: string): number {
    const now = this.#now();
    const lapses = this.#charged.get(room);
    if (lapses !== undefined && lapses > now) return 0;
    const wait = this.#limiter.take(client);
    if (wait === 0) {
      this.#charged.delete(room);
      if (this.#charged.size >= this.#maxRooms) this.#charged.delete(this.#charged.keys().next().value!);
      this.#charged.set(room, now + this.#windowMs);
    }
    return wait;
  }
}

/**
 * The name a client is rate-limited under: its address, or with `trustedHops` > 0 the address the
 * outermost trusted proxy saw (counted from the right of `X-Forwarded-For`, which each proxy
 * appends to). An IPv6 address counts by its /64 prefix, which one subscriber usually holds whole.
 *
 * @param remoteAddress The connection's address, as the mount reports it (`undefined`: unknown).
 * @param forwardedFor The request's `X-Forwarded-For` header, if any.
 * @param trustedHops How many proxies in front of the server to believe (0: none).
 * @returns The key.
 *
 * @example
 * ```ts
 * import { clientKey } from "./_rate-limit.ts";
 * clientKey("10.0.0.9", "203.0.113.7, 10.0.0.1", 1); // "10.0.0.1": the proxy's own view of its client
 * clientKey("2001:db8:1:2:3:4:5:6", null, 0); // "2001:db8:1:2::/64"
 * ```
 */
export function clientKey(remoteAddress: string | undefined, forwardedFor: string | null, trustedHops: number): string {
  let address = remoteAddress ?? "unknown";
  if (trustedHops > 0 && forwardedFor !== null) {
    const hops = forwardedFor
      .split(",")
      .map((hop) => hop.trim())
      .filter((hop) => hop !== "");
    // The last entry was added by the proxy next to us; `trustedHops` proxies back is the client.
    const hop = hops[hops.length - trustedHops];
    if (hop !== undefined) address = hop;
  }
  return prefix64(address);
}

function prefix64(address: string): string {
  if (!address.includes(":") || address.startsWith("::ffff:")) return address.replace(/^::ffff:/, "");
  const [head = "", tail = ""] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === "" ? [] : tail.split(":");
  const groups = address.includes("::")
    ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, "").toLowerCase())
    .join(":")}::/64`;
}
