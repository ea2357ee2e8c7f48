/**
 * eddy on Bun: {@link serve} mounts any `(Request) => Response` on `Bun.serve`, and running this
 * file (`npm run start:bun`, or `bun adapters/bun.ts --help`) starts the chat server.
 *
 * Bun closes a connection after `idleTimeout` seconds (default 10) without traffic, which would
 * cut a quiet event stream between heartbeats: the mount lifts the timeout for every response
 * that is an event stream and leaves it for everything else.
 *
 * @example Mount a handler
 * ```ts
 * import { eventStreamResponse } from "../core/mod.ts";
 * import { serve } from "./bun.ts";
 * async function* hello() {
 *   yield "hello";
 * }
 * const server = await serve(() => eventStreamResponse(hello()), { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 * @module
 */
import type { Handler, RuntimeServer, ServeOptions } from "./_serve.ts";

// Only the Bun APIs this file uses, declared here so no runtime's types enter the compilation.
type BunServer = {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void>;
  timeout(request: Request, seconds: number): void;
};
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error?(error: unknown): Response | Promise<Response>;
  }): BunServer;
};

/**
 * Serves `handler` with `Bun.serve`.
 *
 * @param handler Answers each request.
 * @param options Port (default 0: a free one), host (default `127.0.0.1`), `onError`.
 * @returns The running server.
 *
 * @example
 * ```ts
 * import { serve } from "./bun.ts";
 * const server = await serve(() => Response.json({ ok: true }), { port: 8080 });
 * ```
 */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<RuntimeServer> {
  const onError = options.onError ?? ((error: unknown) => console.error("eddy:", error));
  const server = Bun.serve({
    port: options.port ?? 0,
    hostname: options.host ?? "127.0.0.1",
    async fetch(request, server) {
      const response = await handler(request);
      // An event stream may be quiet for longer than Bun's idle timeout: never cut it.
      if (response.headers.get("content-type")?.startsWith("text/event-stream") === true) server.timeout(request, 0);
      return response;
    },
    error(error) {
      onError(error);
      return Response.json({ error: "The server failed to answer this request" }, { status: 500 });
    },
  });
  const shown = server.hostname.includes(":") ? `[${server.hostname}]` : server.hostname;
  let closing: Promise<void> | undefined;
  return {
    host: server.hostname,
    port: server.port,
    url: `http://${shown}:${server.port}`,
    // Stop accepting, let open responses finish (the caller ends event streams first), then cut
    // whatever is left so shutdown has a bound.
    close: () => (closing ??= Promise.race([server.stop(false), new Promise((r) => setTimeout(r, 3000))]).then(() => server.stop(true))),
  };
}

if ((import.meta as ImportMeta & { main?: boolean }).main === true) {
  const { runChatServer } = await import("./_main.ts");
  await runChatServer(serve);
}
