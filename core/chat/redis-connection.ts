/**
 * What the Redis hub needs from a Redis client, and nothing more: commands on one connection,
 * channel subscriptions on another, and word when the latter comes back after an outage. The
 * package's `redis` entry implements it with node-redis (`@redis/client`); tests or other
 * clients can implement it too, so the hub itself has no dependency and runs wherever `core/`
 * does.
 *
 * @module
 */

/**
 * A pair of Redis connections as the Redis hub uses them.
 *
 * @example An in-process stand-in that refuses every command (what a hub sees while Redis is down)
 * ```ts
 * import type { RedisConnection } from "./redis-connection.ts";
 * const down: RedisConnection = {
 *   get ready() {
 *     return false;
 *   },
 *   command: () => Promise.reject(new Error("ECONNREFUSED")),
 *   subscribe: async () => {},
 *   unsubscribe: async () => {},
 *   onReconnect: () => () => {},
 *   close: async () => {},
 * };
 * console.log(down.ready); // false
 * ```
 */
export interface RedisConnection {
  /** Whether both connections are up. */
  readonly ready: boolean;
  /**
   * Sends one command (e.g. `["EVALSHA", sha, "4", ...keys, ...args]`) and resolves with its
   * reply: strings, numbers, `null` and arrays of those. Must reject at once while disconnected
   * (never queue: a post must fail fast with `503`, not wait for Redis to return), and never
   * resend a command after a reconnect (the hub re-issues what it needs itself).
   */
  command(args: readonly string[]): Promise<unknown>;
  /**
   * Subscribes `listener` to `channel` on the subscriber connection; resolves once Redis has
   * confirmed. The subscription must survive reconnects (resubscribed before `onReconnect` runs).
   */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** Removes `listener` from `channel` (other listeners of the channel stay). */
  unsubscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /**
   * Calls `listener` each time the connections are back after an outage, with every channel
   * resubscribed: what was published meanwhile was not heard, and the hub reads it from the
   * streams. Returns the function that removes the listener.
   */
  onReconnect(listener: () => void): () => void;
  /** Closes both connections. */
  close(): Promise<void>;
}
