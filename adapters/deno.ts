/**
 * eddy on Deno: {@link serve} mounts any `(Request) => Response` on `Deno.serve`, and running
 * this file (`npm run start:deno`, or `deno run --allow-net --allow-env --allow-read
 * adapters/deno.ts --help`) starts the chat server.
 *
 * Deno already aborts `request.signal` when a client disconnects and never times out a
 * response that is still streaming, so the mount only adds a clean shutdown.
 *
 * @example Mount a handler
 * ```ts
 * import { eventStreamResponse } from "../core/mod.ts";
 * import { serve } from "./deno.ts";
 * async function* hello() {
 *   yield "hello";
 * }
 * const server = await serve(() => eventStreamResponse(hello()), { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 * @module
 */
import type { Handler, ListenAddress, RuntimeServer, ServeOptions } from "./_serve.ts";

// Only the Deno APIs this file uses, declared here so no runtime's types enter the compilation.
declare const Deno: {
  serve(
    options: {
      port: number;
      hostname: string;
      signal?: AbortSignal;
      onListen?(address: { hostname: string; port: number }): void;
      onError?(error: unknown): Response | Promise<Response>;
    },
    handler: (request: Request) => Response | Promise<Response>,
  ): { finished: Promise<void>; shutdown(): Promise<void> };
};

/**
 * Serves `handler` with `Deno.serve`.
 *
 * @param handler Answers each request.
 * @param options Port (default 0: a free one), host (default `127.0.0.1`), `onError`.
 * @returns The running server, once it listens.
 *
 * @example
 * ```ts
 * import { serve } from "./deno.ts";
 * const server = await serve(() => Response.json({ ok: true }), { port: 8080 });
 * ```
 */
export function serve(handler: Handler, options: ServeOptions = {}): Promise<RuntimeServer> {
  const onError = options.onError ?? ((error: unknown) => console.error("eddy:", error));
  return new Promise((resolve) => {
    const server = Deno.serve(
      {
        port: options.port ?? 0,
        hostname: options.host ?? "127.0.0.1",
        onListen: ({ hostname, port }) => resolve({ ...address(hostname, port), close }),
        onError(error) {
          onError(error);
          return Response.json({ error: "The server failed to answer this request" }, { status: 500 });
        },
      },
      handler,
    );
    let closing: Promise<void> | undefined;
    // `shutdown` stops accepting and waits for open responses; the caller ends event streams first.
    function close(): Promise<void> {
      closing ??= server.shutdown();
      return closing;
    }
  });
}

function address(hostname: string, port: number): ListenAddress {
  const shown = hostname.includes(":") ? `[${hostname}]` : hostname;
  return { host: hostname, port, url: `http://${shown}:${port}` };
}

if ((import.meta as ImportMeta & { main?: boolean }).main === true) {
  const { runChatServer } = await import("./_main.ts");
  await runChatServer(serve);
}
