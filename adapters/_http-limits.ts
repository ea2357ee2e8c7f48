/**
 * Private to the mounts on `node:http` (`adapters/node.ts`, and `deno.ts` which runs it on Deno's
 * `node:http`): the request deadlines as `node:http` server options (checked, with Node's
 * defaults), and answers with the security headers to the requests `node:http` refuses before
 * any handler sees them (a deadline passed, malformed or oversized headers).
 *
 * @module
 */
import type { Server, ServerOptions } from "node:http";
import type { Duplex } from "node:stream";
import { errorResponse } from "../core/mod.ts";
import { CONNECT_REFUSAL } from "./_serve.ts";

/** How long a request may take to arrive, and a connection may stay idle; see `ServeOptions` in `deno.ts`. */
type Deadlines = {
  headersTimeoutMs?: number | undefined;
  requestTimeoutMs?: number | undefined;
  keepAliveTimeoutMs?: number | undefined;
};

/** Node's defaults, which the Node mount keeps: 60 s for the headers, 300 s for the whole request, 5 s idle. */
const DEFAULT_DEADLINES = { headersTimeoutMs: 60_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 5_000 };

/** `node:http` checks the headers and request deadlines on an interval: at most Node's 30 s. */
const MAX_CHECK_INTERVAL_MS = 30_000;
const MIN_CHECK_INTERVAL_MS = 50;

/**
 * The `node:http` server options that enforce `deadlines` (defaults: {@link DEFAULT_DEADLINES}).
 * The server looks for requests past their deadline every quarter of the shortest one (at most
 * every 30 s, Node's interval), so a deadline is enforced within 125% of itself.
 *
 * @param deadlines Milliseconds; `0` turns a deadline off.
 * @returns `headersTimeout`, `requestTimeout`, `keepAliveTimeout` and `connectionsCheckingInterval`.
 * @throws {RangeError} On a deadline that is not a whole number of milliseconds, 0 or more, or
 *   a headers deadline longer than the request deadline (the headers are part of the request).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { httpDeadlines } from "./_http-limits.ts";
 * assert.deepEqual(httpDeadlines({ headersTimeoutMs: 2000, requestTimeoutMs: 4000 }), {
 *   headersTimeout: 2000,
 *   requestTimeout: 4000,
 *   keepAliveTimeout: 5000,
 *   connectionsCheckingInterval: 500,
 * });
 * ```
 */
export function httpDeadlines(deadlines: Deadlines): ServerOptions {
  const requestTimeout = check("requestTimeoutMs", deadlines.requestTimeoutMs ?? DEFAULT_DEADLINES.requestTimeoutMs);
  const headersTimeout = check(
    "headersTimeoutMs",
    deadlines.headersTimeoutMs ?? Math.min(DEFAULT_DEADLINES.headersTimeoutMs, requestTimeout),
  );
  const keepAliveTimeout = check(
    "keepAliveTimeoutMs",
    deadlines.keepAliveTimeoutMs ?? DEFAULT_DEADLINES.keepAliveTimeoutMs,
  );
  if (requestTimeout > 0 && headersTimeout > requestTimeout) {
    throw new RangeError(
      `headersTimeoutMs (${headersTimeout}) must not be longer than requestTimeoutMs (${requestTimeout}): the headers are part of the request`,
    );
  }
  const shortest = Math.min(...[headersTimeout, requestTimeout].filter((ms) => ms > 0), MAX_CHECK_INTERVAL_MS * 4);
  const connectionsCheckingInterval = Math.max(MIN_CHECK_INTERVAL_MS, Math.floor(shortest / 4));
  return { headersTimeout, requestTimeout, keepAliveTimeout, connectionsCheckingInterval };
}

function check(name: string, ms: number): number {
  if (!Number.isSafeInteger(ms) || ms < 0) {
    throw new RangeError(`${name} must be a whole number of milliseconds, 0 or more (got ${String(ms)})`);
  }
  return ms;
}

/** The answer to each error `node:http` reports before a handler runs, by its code; 400 otherwise. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, "The request did not arrive in time"],
  HPE_HEADER_OVERFLOW: [431, "The request headers are too large"],
};
const BAD_REQUEST = [400, "The request is not valid HTTP"] as const;

/**
 * Makes `server` answer what it refuses before any handler runs as eddy answers everything: the
 * one error shape, the security headers, no parser detail, and `Connection: close`; then the
 * connection is closed. (`node:http` alone writes a bare status line, or for `CONNECT` closes
 * the connection without a word.) That is a request past its headers or request deadline,
 * malformed or oversized headers, and `CONNECT` ({@link CONNECT_REFUSAL}). A connection whose
 * response has begun is only closed. Nothing is added for an event the server already listens to.
 *
 * @param server A `node:http` server.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { answerRefusedRequests } from "./_http-limits.ts";
 * const server = createServer((_req, res) => res.end("ok"));
 * answerRefusedRequests(server);
 * ```
 */
export function answerRefusedRequests(server: Server): void {
  if (server.listenerCount("clientError") === 0) server.on("clientError", onClientError);
  if (server.listenerCount("connect") === 0) server.on("connect", onConnect);
}

function onClientError(error: Error & { code?: string }, socket: Duplex): void {
  const response = (socket as Duplex & { _httpMessage?: { headersSent: boolean } | null })._httpMessage;
  if (error.code === "ECONNRESET" || !socket.writable || response?.headersSent === true) {
    socket.destroy();
    return;
  }
  const [status, message] = CLIENT_ERRORS[error.code ?? ""] ?? BAD_REQUEST;
  // At once, not after reading a body: the handler of a request whose body was cut is about to
  // answer on this socket too, and this answer must come first.
  writeAndClose(socket, status, message);
}

// node:http hands a CONNECT request's socket over whole (to be a tunnel): nothing is answered
// on it unless we write it ourselves.
function onConnect(_request: unknown, socket: Duplex): void {
  writeAndClose(socket, CONNECT_REFUSAL.status, CONNECT_REFUSAL.message, CONNECT_REFUSAL.headers);
}

/**
 * Writes `errorResponse(status, message, headers)` as HTTP/1.1 on `socket` with `Connection:
 * close`, synchronously (so it comes before anything a handler might still write), then closes it.
 */
function writeAndClose(
  socket: Duplex,
  status: number,
  message: string,
  headers?: Readonly<Record<string, string>>,
): void {
  let head = `HTTP/1.1 ${status} ${REASONS[status] ?? ""}\r\n`;
  errorResponse(status, message, headers).headers.forEach((value, name) => {
    head += `${name}: ${value}\r\n`;
  });
  const body = new TextEncoder().encode(JSON.stringify({ error: message })); // errorResponse's body
  head += `content-length: ${body.byteLength}\r\nconnection: close\r\n\r\n`;
  // Closed once the answer is flushed, or after a grace period: a client that keeps sending (a
  // slow one, an unfinished body) or does not read must not hold the connection.
  const cut = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  socket.once("close", () => clearTimeout(cut));
  socket.write(head, "latin1");
  socket.end(body, () => socket.destroy());
}

/** The reason phrases of the statuses {@link writeAndClose} writes. */
const REASONS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
};

/** How long a refused connection may take to take its answer before it is cut anyway. */
const CLOSE_GRACE_MS = 1000;
