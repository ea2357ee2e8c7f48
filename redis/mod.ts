/**
 * eddy on Redis: {@link connectRedis} opens the two connections the Redis hub uses, with
 * node-redis (`@redis/client`, the official client; it runs on Node, Bun and Deno), and
 * {@link createRedisHub} (re-exported from the chat app) builds the hub on them.
 *
 * @example Two instances of the chat behind a load balancer share one Redis
 * ```ts no-run
 * import { createChatApp } from "../core/chat/mod.ts";
 * import { connectRedis, createRedisHub } from "./mod.ts";
 * const hub = createRedisHub({ redis: await connectRedis("redis://127.0.0.1:6379") });
 * const app = createChatApp({ hub }); // mount app.fetch on any runtime
 * ```
 * @module
 */
import { createClient } from "@redis/client";
import type { RedisConnection } from "../core/chat/mod.ts";

export { createRedisHub, type RedisConnection, type RedisHubOptions } from "../core/chat/mod.ts";

/**
 * Options of {@link connectRedis}.
 *
 * @example
 * ```ts
 * import type { ConnectRedisOptions } from "./mod.ts";
 * const options: ConnectRedisOptions = { connectTimeoutMs: 2000, onError: (error) => console.warn(error) };
 * ```
 */
export type ConnectRedisOptions = {
  /** How long to wait for Redis at start and for each reconnect attempt. Default 5000 ms. */
  connectTimeoutMs?: number;
  /**
   * Told once per outage that Redis went away (with the cause), and once when it is back
   * (`undefined`). Default: `console.error` / `console.error("... reconnected")`.
   */
  onError?(error: Error | undefined): void;
};

/** Reconnect delays grow from 50 ms to this, with jitter, and never give up. */
const MAX_RECONNECT_DELAY_MS = 2000;

/**
 * Connects to Redis for the Redis hub: one connection for commands and one for channel
 * subscriptions (a subscribed connection can send nothing else).
 *
 * - Commands fail at once while Redis is unreachable (no offline queue: a post gets `503` now
 *   rather than hanging) and are never resent after a reconnect (node-redis rejects what was in
 *   flight); the hub re-reads what it missed from the streams.
 * - Both reconnect by themselves, forever, after 50 ms growing to 2 s with full jitter. This
 *   strategy is our own: node-redis' default gives up on a socket timeout.
 * - A ping every 5 s on each connection notices a dead peer that never closed the socket.
 *
 * @param url `redis://[[user]:password@]host[:port][/db]` or `rediss://` for TLS.
 * @param options Timeouts and the error hook.
 * @returns The connections, both ready.
 * @throws {Error} If Redis cannot be reached within `connectTimeoutMs` at start.
 * @throws {TypeError} If `url` is not a `redis:` or `rediss:` URL.
 *
 * @example
 * ```ts no-run
 * import { connectRedis } from "./mod.ts";
 * const redis = await connectRedis("redis://127.0.0.1:6379");
 * console.log(await redis.command(["PING"])); // "PONG"
 * await redis.close();
 * ```
 */
export async function connectRedis(url: string, options: ConnectRedisOptions = {}): Promise<RedisConnection> {
  if (!/^rediss?:\/\//i.test(url)) {
    throw new TypeError(`Cannot connect to Redis: "url" must start with redis:// or rediss://, received ${JSON.stringify(url)}`);
  }
  const connectTimeout = options.connectTimeoutMs ?? 5000;
  const report = options.onError ?? ((error) => console.error(error === undefined ? "eddy: Redis reconnected" : `eddy: Redis unreachable: ${error.message}`));
  const commands = createClient({
    url,
    disableOfflineQueue: true,
    pingInterval: 5000,
    socket: {
      connectTimeout,
      reconnectStrategy: (retries: number) => Math.random() * Math.min(MAX_RECONNECT_DELAY_MS, 50 * 2 ** retries),
    },
  });
  const subscriber = commands.duplicate({ disableOfflineQueue: false });
  const reconnectListeners = new Set<() => void>();
  let down = false;
  let starting = true;
  let closed = false;
  const onError = (error: Error) => {
    if (down || starting || closed) return;
    down = true;
    report(error);
  };
  commands.on("error", onError);
  subscriber.on("error", onError);
  const onReady = () => {
    if (starting || closed || !commands.isReady || !subscriber.isReady) return;
    if (down) report(undefined);
    down = false;
    for (const listener of reconnectListeners) listener();
  };
  commands.on("ready", onReady);
  subscriber.on("ready", onReady);
  try {
    await Promise.all([commands.connect(), subscriber.connect()]);
  } catch (error) {
    commands.destroy();
    subscriber.destroy();
    throw error;
  }
  starting = false;

  return {
    get ready() {
      return commands.isReady && subscriber.isReady;
    },
    command: (args) => commands.sendCommand(args as string[]),
    subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
    unsubscribe: (channel, listener) => subscriber.unsubscribe(channel, listener),
    onReconnect(listener) {
      reconnectListeners.add(listener);
      return () => void reconnectListeners.delete(listener);
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([commands.close(), subscriber.close()]);
    },
  };
}
