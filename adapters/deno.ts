/**
 * eddy on Deno: {@link serve} mounts any `(Request) => Response` on Deno's `node:http`. (The chat
 * server program that runs on it is `cli/deno.ts`: `npm run start:deno`.)
 *
 * Why not `Deno.serve`: it has no deadlines (denoland/deno#3515, #25433), so a client that sends
 * its headers a byte a second, or never finishes a body, holds its connection forever; and after
 * an answer with `Connection: close` it keeps the connection and reads the rest of the upload.
 * Deno has no public way to serve HTTP on a connection accepted by hand (`Deno.serveHttp` is
 * deprecated and gone from Deno 2's types), and a proxy in front would copy every event. Deno's
 * `node:http` is Node's server ported (llhttp, the same deadlines, `Connection: close` honoured),
 * so this mount is the Node mount (`node.ts`) with the deadlines as options, and refusals answered
 * with the security headers. A deadline bounds *receiving* a request: an event stream is never
 * cut, however quiet.
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
import { httpDeadlines } from "./_http-limits.ts";
import type { ServeOptions as BaseServeOptions, Handler, RuntimeServer } from "./_serve.ts";
import { serve as serveNode } from "./node.ts";

export type { ConnectionInfo, Handler, ListenAddress, RuntimeServer } from "./_serve.ts";

/**
 * Options of {@link serve}: those of every mount (`port`, `host`, `onError`), plus the deadlines
 * of receiving a request, in milliseconds (`0` turns one off). A connection past one is answered
 * `408` and closed; a request whose body was cut sees its body stream error and its `signal` abort.
 */
export type ServeOptions = BaseServeOptions & {
  /** The request's headers must have arrived within this (from its first byte, or from the connection). Default 60 000. */
  headersTimeoutMs?: number;
  /** The whole request, headers and body, must have arrived within this. Default 300 000. */
  requestTimeoutMs?: number;
  /** A keep-alive connection may wait this long for its next request. Default 5000. */
  keepAliveTimeoutMs?: number;
};

/**
 * Serves `handler` with Deno's `node:http`, as the Node mount does (streamed bodies, backpressure,
 * `request.signal` aborted when the client leaves, a `500` for a handler that throws), with
 * deadlines for receiving requests. Checked every quarter of the shortest one.
 *
 * @param handler Answers each request.
 * @param options Port (default 0: a free one), host (default `127.0.0.1`), `onError`, deadlines.
 * @returns The running server, once it listens.
 * @throws {RangeError} On a deadline that is not a whole number of milliseconds, 0 or more, or a
 *   headers deadline longer than the request deadline.
 * @throws {Error} If listening fails (e.g. `EADDRINUSE`).
 *
 * @example Short deadlines
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./deno.ts";
 * const server = await serve(() => Response.json({ ok: true }), {
 *   port: 0, // a free port
 *   headersTimeoutMs: 5_000, // slow headers: 408, closed
 *   requestTimeoutMs: 30_000, // an unfinished body: 408, closed, the handler's body stream errors
 *   keepAliveTimeoutMs: 2_000, // an idle keep-alive connection: closed
 * });
 * const response = await fetch(server.url);
 * assert.deepEqual(await response.json(), { ok: true });
 * await server.close();
 * ```
 */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<RuntimeServer> {
  const { headersTimeoutMs: _h, requestTimeoutMs: _r, keepAliveTimeoutMs: _k, ...base } = options;
  // The Node mount answers node:http's own refusals (408, 400, 431) with the security headers.
  const { host, port, url, close } = await serveNode(handler, { ...base, http: httpDeadlines(options) });
  return { host, port, url, close };
}
