/**
 * Private: the Node entry point's life cycle (`npm start`): config, chat app, listen, one
 * listening line, graceful shutdown on SIGINT/SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { createAppFromConfig } from "./_app.ts";
import { startupConfig } from "./_config.ts";
import type { serve as Serve } from "./node.ts";

/** After a shutdown signal, the process exits within this bound even if something hangs. */
const SHUTDOWN_LIMIT_MS = 5000;
/** Open responses get this long to end on their own before their connections are cut. */
const DRAIN_MS = 3000;

/**
 * Runs the chat server until SIGINT or SIGTERM, then exits 0 (or 1 if shutting down took longer
 * than 5 s). `--help` prints the options and exits 0; an invalid option exits 2.
 *
 * @param serve The mount from `node.ts` (passed in to keep the import one-way).
 * @returns Resolves once the server listens (the process then lives on its signal handlers).
 *
 * @example
 * ```ts
 * import { serve } from "./node.ts";
 * import { main } from "./_node-main.ts";
 * await main(serve); // same as `tsx adapters/node.ts`
 * ```
 */
export async function main(serve: typeof Serve): Promise<void> {
  const startup = startupConfig(process.argv.slice(2), process.env);
  if ("exitCode" in startup) {
    process[startup.stream].write(startup.text);
    process.exitCode = startup.exitCode;
    return;
  }
  const { config } = startup;
  let app: ReturnType<typeof createAppFromConfig>;
  try {
    app = createAppFromConfig(config, (message) => process.stderr.write(`eddy: ${message}\n`));
  } catch (error) {
    // The chat app refuses option combinations (e.g. replay larger than history) with a RangeError.
    process.stderr.write(`eddy: Invalid options: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 2;
    return;
  }
  let server: Awaited<ReturnType<typeof Serve>>;
  try {
    server = await serve(app.fetch, {
      port: config.port,
      host: config.host,
      shutdownTimeoutMs: DRAIN_MS,
      onError: (error) => console.error("eddy: request failed:", error),
    });
  } catch (error) {
    process.stderr.write(`eddy: Cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}\n`);
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
    }, SHUTDOWN_LIMIT_MS).unref();
    // Stop accepting and abort open requests; the app ends its streams and stops bot replies.
    Promise.all([server.close(), app.close()]).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("eddy: shutdown failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop).on("SIGTERM", stop);
}
