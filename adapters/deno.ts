/**
 * eddy on Deno: {@link serve} mounts any `(Request) => Response` on `Deno.serve`. (The chat
 * server program that runs on it is `cli/deno.ts`: `npm run start:deno`.)
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
import { serverErrorResponse } from "../core/mod.ts";
import { type Handler, listenAddress, type RuntimeServer, type ServeOptions } from "./_serve.ts";

export type { ConnectionInfo, Handler, ListenAddress, RuntimeServer, ServeOptions } from "./_serve.ts";

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
    handler: (request: Request, info: { remoteAddr: { hostname?: string } }) => Response | Promise<Response>,
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
 * import assert from "node:assert/strict";
 * import { serve } from "./deno.ts";
 * const server = await serve(() => Response.json({ ok: true }), { port: 0 }); // 0: a free port
 * const response = await fetch(server.url);
 * assert.deepEqual(await response.json(), { ok: true });
 * await server.close();
 * ```
 */
export function serve(handler: Handler, options: ServeOptions = {}): Promise<RuntimeServer> {
  const onError = options.onError ?? ((error: unknown) => console.error("eddy:", error));
  return new Promise((resolve) => {
    const server = Deno.serve(
      {
        port: options.port ?? 0,
        hostname: options.host ?? "127.0.0.1",
        onListen: ({ hostname, port }) => resolve({ ...listenAddress(hostname, port), close }),
        onError(error) {
          onError(error);
          return serverErrorResponse();
        },
      },
      (request, info) => {
        const address = info.remoteAddr.hostname;
        return handler(request, address === undefined ? {} : { remoteAddress: address });
      },
    );
    let closing: Promise<void> | undefined;
    // `shutdown` stops accepting and waits for open responses; the caller ends event streams first.
    function close(): Promise<void> {
      closing ??= server.shutdown();
      return closing;
    }
  });
}
