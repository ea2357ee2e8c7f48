/**
 * eddy on Bun: {@link serve} mounts any `(Request) => Response` on `Bun.serve`. (The chat server
 * program that runs on it is `cli/bun.ts`: `npm run start:bun`.)
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
import { errorResponse, serverErrorResponse } from "../core/mod.ts";
import {
  CONNECT_REFUSAL,
  type Handler,
  listenAddress,
  type RuntimeServer,
  SHUTDOWN_TIMEOUT_MS,
  type ServeOptions,
} from "./_serve.ts";

export type { ConnectionInfo, Handler, ListenAddress, RuntimeServer, ServeOptions } from "./_serve.ts";

// Only the Bun APIs this file uses, declared here so no runtime's types enter the compilation.
type BunServer = {
  readonly port: number;
  readonly hostname: string;
  stop(closeActiveConnections?: boolean): Promise<void>;
  timeout(request: Request, seconds: number): void;
  requestIP(request: Request): { address: string } | null;
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
 * import assert from "node:assert/strict";
 * import { serve } from "./bun.ts";
 * const server = await serve(() => Response.json({ ok: true }), { port: 0 }); // 0: a free port
 * const response = await fetch(server.url);
 * assert.deepEqual(await response.json(), { ok: true });
 * await server.close();
 * ```
 */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<RuntimeServer> {
  const onError = options.onError ?? ((error: unknown) => console.error("eddy:", error));
  const server = Bun.serve({
    port: options.port ?? 0,
    hostname: options.host ?? "127.0.0.1",
    async fetch(request, server) {
      // As the mounts on node:http do: no handler sees a tunnel request (Bun would give it a URL
      // made of the host and port).
      if (request.method === "CONNECT") {
        const { status, message, headers } = CONNECT_REFUSAL;
        return errorResponse(status, message, { ...headers, connection: "close" });
      }
      const address = server.requestIP(request)?.address;
      const response = await handler(request, address === undefined ? {} : { remoteAddress: address });
      // An event stream may be quiet for longer than Bun's idle timeout: never cut it.
      if (response.headers.get("content-type")?.startsWith("text/event-stream") === true) server.timeout(request, 0);
      return response;
    },
    error(error) {
      onError(error);
      return serverErrorResponse();
    },
  });
  let closing: Promise<void> | undefined;
  return {
    ...listenAddress(server.hostname, server.port),
    // Stop accepting, let open responses finish (the caller ends event streams first), then cut
    // whatever is left so shutdown has a bound.
    close: () => (closing ??= bounded(server.stop(false), SHUTDOWN_TIMEOUT_MS).then(() => server.stop(true))),
  };
}

/** `promise`, or after `ms` whatever it is doing; the timer does not outlive it. */
function bounded(promise: Promise<void>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cutoff = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([promise, cutoff]).finally(() => clearTimeout(timer));
}
