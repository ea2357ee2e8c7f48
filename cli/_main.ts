/**
 * Private: the chat server's life cycle, the same on every runtime (`cli/node.ts`, `bun.ts`,
 * `deno.ts`): config, chat app, listen, one listening line, graceful shutdown on SIGINT/SIGTERM.
 * `node:process` is provided by Node, Bun and Deno alike.
 *
 * @module
 */
import process from "node:process";
import { createAppFromConfig } from "./_app.ts";
import { startupConfig } from "./_config.ts";

/** What the program needs of a runtime's mount: `serve` from `eddy-sse/node`, `/bun` or `/deno`. */
export type Mount = (
  handler: (request: Request) => Promise<Response>,
  options: { port: number; host: string; onError(error: unknown): void },
) => Promise<{ readonly url: string; close(): Promise<void> }>;

/** After a shutdown signal, the process exits within this bound even if something hangs. */
const SHUTDOWN_LIMIT_MS = 5000;

/**
 * Runs the chat server until SIGINT or SIGTERM, then exits 0 (or 1 if shutting down took longer
 * than 5 s). `--help` prints the options and exits 0; an invalid option exits 2.
 *
 * @param serve The runtime's mount (`serve` from `adapters/node.ts`, `bun.ts` or `deno.ts`).
 * @returns Resolves once the server listens (the process then lives on its signal handlers).
 *
 * @example
 * ```ts no-run
 * import { serve } from "../adapters/node.ts";
 * import { runChatServer } from "./_main.ts";
 * await runChatServer(serve); // what `npm start` runs: cli/node.ts
 * ```
 */
export async function runChatServer(serve: Mount): Promise<void> {
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
    // The app ends its event streams and stops bot replies; the server stops accepting and
    // closes connections once their responses end.
    Promise.all([app.close(), server.close()]).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error("eddy: shutdown failed:", error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop).on("SIGTERM", stop);
}
