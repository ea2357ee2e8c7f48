/**
 * Private: per-client token buckets (posts, new streams, new rooms), kept here or in the hub's
 * shared storage, and how a client is named.
 *
 * @module
 */
import { HubClosedError, HubUnavailableError, type Hub } from "./hub.ts";

/**
 * What the routes take tokens from: a bucket per client key, answered at once (this instance's
 * own) or after a round trip (one every instance shares).
 *
 * @example
 * ```ts
 * import { type Limiter, RateLimiter } from "./_rate-limit.ts";
 * const posts: Limiter = new RateLimiter(2, 1);
 * console.log(await posts.take("10.0.0.1")); // 0: allowed
 * ```
 */
export type Limiter = {
  /** 0 when allowed; otherwise the whole seconds until a token is back (for `Retry-After`). */
  take(key: string): number | Promise<number>;
};

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
export class RateLimiter implements Limiter {
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
 * A client's bucket kept by the hub (`Hub.takeToken`: in Redis, for the Redis hub), so that a
 * client spreading its requests over several instances gets one budget, not one per instance.
 * While the hub's storage is unreachable (or the hub is closing), this instance counts alone with a
 * bucket of its own (the requests that need the storage fail then anyway; the others stay bounded).
 */
class SharedRateLimiter implements Limiter {
  readonly #hub: Required<Pick<Hub, "takeToken">>;
  readonly #bucket: string;
  readonly #burst: number;
  readonly #perSecond: number;
  readonly #alone: RateLimiter;

  constructor(hub: Required<Pick<Hub, "takeToken">>, bucket: string, burst: number, perSecond: number) {
    this.#hub = hub;
    this.#bucket = bucket;
    this.#burst = burst;
    this.#perSecond = perSecond;
    this.#alone = new RateLimiter(burst, perSecond);
  }

  async take(key: string): Promise<number> {
    try {
      return await this.#hub.takeToken(this.#bucket, key, this.#burst, this.#perSecond);
    } catch (error) {
      // Unreachable or shutting down: count here; the request then gets the hub's own 503.
      if (error instanceof HubUnavailableError || error instanceof HubClosedError) return this.#alone.take(key);
      throw error;
    }
  }
}

/**
 * This instance's buckets, or with a hub that shares them (`takeToken`) the shared ones.
 *
 * @param hub The chat's hub.
 * @param bucket The bucket's name: `posts`, `streams`, `rooms`.
 * @param burst Tokens at most.
 * @param perSecond Refill rate.
 * @returns The limiter.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * import { limiterFor, RateLimiter } from "./_rate-limit.ts";
 * console.log(limiterFor(createMemoryHub(), "posts", 200, 10) instanceof RateLimiter); // true: one instance
 * ```
 */
export function limiterFor(hub: Hub, bucket: string, burst: number, perSecond: number): Limiter {
  const takeToken = hub.takeToken;
  if (takeToken === undefined) return new RateLimiter(burst, perSecond);
  return new SharedRateLimiter({ takeToken: takeToken.bind(hub) }, bucket, burst, perSecond);
}

/**
 * The new-room limit: one token from the client's bucket per room it creates, charged once per
 * room however many requests race to create it. Requests that open a room nobody is in yet all
 * find it missing until the first of them has joined it (50 tabs opened at once, a page's stream
 * and its first post); each would otherwise pay for the same room. A room charged within the last
 * `windowMs` is free, and so is one whose charge is still being decided (a shared bucket answers
 * after a round trip): a racer waits for that answer and pays only if it was a refusal. At most
 * `maxRooms` such rooms are remembered (forgetting one only means a late racer pays: bounded, and
 * never more lenient than one room per token).
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
  readonly #limiter: Limiter;
  readonly #now: () => number;
  readonly #windowMs: number;
  readonly #maxRooms: number;
  /** When each recently charged room's charge lapses; Map order is oldest charge first. */
  readonly #charged = new Map<string, number>();
  /** The charges still being decided by an asynchronous limiter, by room. */
  readonly #deciding = new Map<string, Promise<number>>();

  constructor(limiter: Limiter, now: () => number = Date.now, windowMs = 10_000, maxRooms = 10_000) {
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
  take(client: string, room: string): number | Promise<number> {
    const lapses = this.#charged.get(room);
    if (lapses !== undefined && lapses > this.#now()) return 0;
    const deciding = this.#deciding.get(room);
    if (deciding !== undefined) return deciding.then((wait) => (wait === 0 ? 0 : this.take(client, room)));
    const wait = this.#limiter.take(client);
    if (typeof wait === "number") return this.#settle(room, wait);
    const decided = wait.then(
      (wait) => this.#settle(room, wait),
      (error: unknown) => {
        this.#deciding.delete(room);
        throw error;
      },
    );
    this.#deciding.set(room, decided);
    return decided;
  }

  #settle(room: string, wait: number): number {
    this.#deciding.delete(room);
    if (wait === 0) {
      this.#charged.delete(room);
      if (this.#charged.size >= this.#maxRooms) this.#charged.delete(this.#charged.keys().next().value!);
      this.#charged.set(room, this.#now() + this.#windowMs);
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
