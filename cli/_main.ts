/**
 * Private: the chat server's life cycle, the same on every runtime (`cli/node.ts`, `bun.ts`,
 * `deno.ts`): config, chat app, listen, one listening line, graceful shutdown on SIGINT/SIGTERM.
 * `node:process` is provided by Node, Bun and Deno alike.
 *
 * @module
 */
import process from "node:process";
import type { Hub } from "../core/chat/mod.ts";
import { createAppFromConfig } from "./_app.ts";
import { type Config, redacted, startupConfig } from "./_config.ts";

/** What the program needs of a runtime's mount: `serve` from `eddy-sse/node`, `/bun` or `/deno`. */
export type Mount = (
  handler: (request: Request, info: { readonly remoteAddress?: string }) => Promise<Response>,
  options: { port: number; host: string; onError(error: unknown): void },
) => Promise<{ readonly url: string; close(): Promise<void> }>;

/** After a shutdown signal, the process exits within this bound even if something hangs. */
const SHUTDOWN_LIMIT_MS = 5000;

/**
 * Runs the chat server until SIGINT or SIGTERM, then exits 0 (or 1 if shutting down took longer
 * than 5 s). `--help` prints the options and exits 0; an invalid option exits 2.
 *
 * @param serve The runtime's mount (`serve` from `adapters/node.ts`, `bun.ts` or `deno.ts`).
 * @param args The server's flags (default: the process's arguments; `eddy serve` passes those after `serve`).
 * @returns Resolves once the server listens (the process then lives on its signal handlers).
 *
 * @example
 * ```ts no-run
 * import { serve } from "../adapters/node.ts";
 * import { runChatServer } from "./_main.ts";
 * await runChatServer(serve); // what `npm start` runs: cli/node.ts
 * ```
 */
export async function runChatServer(serve: Mount, args: readonly string[] = process.argv.slice(2)): Promise<void> {
  const startup = startupConfig(args, process.env);
  if ("exitCode" in startup) {
    process[startup.stream].write(startup.text);
    process.exitCode = startup.exitCode;
    return;
  }
  const { config } = startup;
  let hub: Hub | undefined;
  try {
    hub = await redisHub(config);
  } catch (error) {
    const url = redacted(config.redis?.url ?? "");
    process.stderr.write(
      `eddy: Cannot connect to Redis at ${url}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exitCode = 1;
    return;
  }
  let app: ReturnType<typeof createAppFromConfig>;
  try {
    app = createAppFromConfig(config, (message) => process.stderr.write(`eddy: ${message}\n`), hub);
  } catch (error) {
    // The chat app refuses option combinations (e.g. replay larger than history) with a RangeError.
    process.stderr.write(`eddy: Invalid options: ${error instanceof Error ? error.message : String(error)}\n`);
    await hub?.close();
    process.exitCode = 2;
    return;
  }
  let server: Awaited<ReturnType<Mount>>;
  try {
    server = await serve(app.fetch, {
      port: config.port,
      host: config.host,
      onError: (error: unknown) => console.error("eddy: request failed:", error),
    });
  } catch (error) {
    process.stderr.write(
      `eddy: Cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    await app.close();
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`eddy listening on ${server.url}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return; // a second signal changes nothing; the bound below still holds
    stopping = true;
    setTimeout(() => {
      process.stderr.write(`eddy: shutdown took longer than ${SHUTDOWN_LIMIT_MS} ms; exiting anyway\n`);
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref?.();
    // The app first stops bot replies (each stores its final message, which every stream still
    // delivers), then ends its event streams; only then does the server stop accepting and close
    // connections. Closing both at once let Node's mount end the streams before the final messages.
    app
      .close()
      .then(() => server.close())
      .then(
        () => process.exit(0),
        (error: unknown) => {
          console.error("eddy: shutdown failed:", error);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", stop).on("SIGTERM", stop);
}

/** The Redis hub when `--redis` is set (connected, so a wrong URL fails at start), else `undefined`. */
async function redisHub(config: Config): Promise<Hub | undefined> {
  if (config.redis === undefined) return undefined;
  // Loaded only when asked for: the Redis client costs the in-memory server memory it never uses.
  const { connectRedis, createRedisHub } = await import("../redis/mod.ts");
  const redis = await connectRedis(config.redis.url, {
    onError: (error) =>
      process.stderr.write(
        error === undefined ? "eddy: Redis is back\n" : `eddy: Redis unreachable: ${error.message}\n`,
      ),
  });
  // The chat options the hub reads itself (sizes, presence interval) are those of the config.
  const { historySize, replayCount, queueLimit, maxRooms } = config;
  return createRedisHub({
    ...defined({ historySize, replayCount, queueLimit, maxRooms }),
    redis,
    keyPrefix: config.redis.prefix,
    ...(config.redis.replyLeaseMs === undefined ? {} : { replyLeaseMs: config.redis.replyLeaseMs }),
  });
}

/** `object` without its `undefined` fields (exactOptionalPropertyTypes). */
function defined<T extends object>(object: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}
