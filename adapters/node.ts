/**
 * eddy on Node: {@link serve} mounts any `(Request) => Response` on `node:http`. (The chat server
 * program that runs on it is `cli/node.ts`: `npm start`.)
 *
 * @example Mount a handler
 * ```ts
 * import { eventStreamResponse } from "../core/mod.ts";
 * import { serve } from "./node.ts";
 * async function* ticks(signal: AbortSignal) {
 *   for (let i = 0; !signal.aborted; i++) {
 *     yield String(i);
 *     await new Promise((resolve) => setTimeout(resolve, 1000));
 *   }
 * }
 * const server = await serve((request) => eventStreamResponse(ticks(request.signal), { signal: request.signal }), {
 *   port: 0,
 *   host: "127.0.0.1",
 * });
 * console.log(`listening on ${server.url}`);
 * await server.close();
 * ```
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from "node:http";
import { answerRefusedRequests, httpDeadlines } from "./_http-limits.ts";
import type { AddressInfo, Socket } from "node:net";
import {
  abortRequest,
  discardUnreadBody,
  forHandler,
  hasBody,
  type NodeRequest,
  toWebRequest,
  UnrepresentableRequestError,
} from "./_node-request.ts";
import {
  directStreamClosed,
  discardResponse,
  endDirectStream,
  sendDirectResponse,
  sendWebResponse,
} from "./_node-response.ts";
import { directResponse, errorResponse, serverErrorResponse } from "../core/mod.ts";
import {
  type ServeOptions as BaseServeOptions,
  type ConnectionInfo,
  type Handler,
  type ListenAddress,
  listenAddress,
  type RuntimeServer,
  SHUTDOWN_TIMEOUT_MS,
} from "./_serve.ts";

export type { ConnectionInfo, Handler, ListenAddress, RuntimeServer } from "./_serve.ts";

/**
 * What the handler is told of the connection, read when asked: the peer's address costs a system
 * call and an object kept on the socket for its whole life, which a subscriber's request never
 * needs unless the handler rate-limits by address. `directStreams`: this mount writes event
 * streams over push sources to the socket itself (`eventStreamResponse` with `direct`), and frees
 * a response's stream when the client leaves before it is sent.
 */
class NodeConnectionInfo {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    this.#socket = socket;
  }

  get remoteAddress(): string | undefined {
    return this.#socket.remoteAddress;
  }

  get directStreams(): true {
    return true;
  }
}

/** Node's default listen backlog is 511; see {@link ServeOptions.backlog}. */
const BACKLOG = 4096;

/** Options of {@link serve}: those of every mount (`port`, `host`, `onError`), plus Node's own. */
export type ServeOptions = BaseServeOptions & {
  /** Aborting it shuts the server down, like {@link NodeServer.close}. */
  signal?: AbortSignal;
  /** Called once the server listens. */
  onListen?(address: ListenAddress): void;
  /** How long {@link NodeServer.close} lets open responses end before cutting their connections. Default 3000 ms. */
  shutdownTimeoutMs?: number;
  /**
   * Connections the kernel may hold waiting to be accepted. Default 4096 (capped by the system's
   * `somaxconn`): a crowd of event-stream clients reconnecting at once, after a restart, must not
   * overflow it, or their connection attempts are dropped and retried a second later.
   */
  backlog?: number;
  /** Passed to `http.createServer` (e.g. `headersTimeout`, `keepAliveTimeout`, `maxHeaderSize`). */
  http?: ServerOptions;
};

/** A running server. */
export type NodeServer = RuntimeServer & {
  /** The underlying `node:http` server. */
  server: Server;
  /**
   * Stops accepting connections, aborts every open request's `signal` (which ends event streams
   * that watch it), closes idle keep-alive connections, and after `shutdownTimeoutMs` destroys
   * whatever is still open. Resolves when every connection is closed. Idempotent.
   */
  close(): Promise<void>;
};

/**
 * Serves `handler` on `node:http`.
 *
 * - The `Request` has the method, the absolute URL (from `Host`), the headers, a streamed body
 *   (paced by the handler) and a `signal` that aborts when the client disconnects early.
 * - Response headers are sent at once; the body is streamed with backpressure (the handler's
 *   stream is not read while the socket buffer is full) and cancelled when the client leaves.
 * - Timeouts never cut a long response: `server.timeout` is 0 and Node's `requestTimeout`
 *   and `headersTimeout` only bound *receiving* a request.
 * - A handler that throws gets a `500 {"error": ...}`; the process keeps serving.
 *
 * @param handler Answers each request.
 * @param options Port, host, shutdown signal, hooks and `node:http` options.
 * @returns The running server, once it listens.
 * @throws {Error} If listening fails (e.g. `EADDRINUSE`).
 *
 * @example Serve, then shut down
 * ```ts
 * import assert from "node:assert/strict";
 * import { serve } from "./node.ts";
 * const server = await serve(() => Response.json({ hello: "world" }), { port: 0 });
 * const response = await fetch(server.url);
 * assert.deepEqual(await response.json(), { hello: "world" });
 * await server.close();
 * ```
 */
export async function serve(handler: Handler, options: ServeOptions = {}): Promise<NodeServer> {
  const onError = options.onError ?? ((error: unknown) => console.error("eddy:", error));
  // Every response not yet closed, with its request (whose signal it aborts); `undefined` once
  // its event stream writes directly (nothing listens to the request any more, so the request
  // and its signal are let go; shutdown ends the stream itself).
  const open = new Map<ServerResponse, NodeRequest | undefined>();
  let closing: Promise<void> | undefined;
  // Deadlines for receiving a request (headers 60 s, whole request 300 s, or `http`'s own), checked
  // every quarter of the shortest (so a slow client is cut within 125% of it); node:http's own
  // refusals (408, 400, 431) answered as every eddy error is, with the security headers.
  const http = options.http ?? {};
  const deadlines = httpDeadlines({
    headersTimeoutMs: http.headersTimeout,
    requestTimeoutMs: http.requestTimeout,
    keepAliveTimeoutMs: http.keepAliveTimeout,
  });
  const server = createServer({ ...deadlines, ...http }, respond);
  answerRefusedRequests(server);
  server.timeout = 0; // no socket idle timeout: an event stream may be quiet between heartbeats

  // One listener for every response (`this` is the response), not a closure per request: an
  // open event stream should cost its connection and little else.
  function onResponseClose(this: ServerResponse): void {
    const request = open.get(this);
    open.delete(this);
    directStreamClosed(this); // the client left (or the stream ended): unsubscribe now
    // Aborts the signal if the handler read it, else makes it aborted should it be read later.
    if (request !== undefined && !this.writableFinished) {
      abortRequest(request, new Error("The client closed the connection"));
    }
    if (closing !== undefined) setImmediate(() => server.closeIdleConnections());
  }

  // The handler's answer is awaited in one small async function, and the rest runs without
  // one: each async frame and await is garbage (hundreds of bytes for a large function), and a
  // crowd of subscribers connecting at once should leave little behind.
  function respond(req: IncomingMessage, res: ServerResponse): void {
    open.set(res, undefined);
    res.on("close", onResponseClose); // not `once`, which wraps the listener per response
    let answer: Response | Promise<Response>;
    try {
      const request = toWebRequest(req);
      open.set(res, request);
      if (hasBody(request)) res.once("finish", () => discardUnreadBody(request));
      const forIt = forHandler(request);
      try {
        answer = handler(forIt, new NodeConnectionInfo(req.socket) as ConnectionInfo);
      } catch (error) {
        answer = handlerFailed(error);
      }
    } catch (error) {
      res.setHeader("connection", "close"); // whatever follows on this connection is suspect
      // A fixed sentence per cause: the client's method, host, target or credentials never come back.
      answer = errorResponse(
        400,
        error instanceof UnrepresentableRequestError ? error.message : "The request cannot be read",
      );
    }
    if (answer instanceof Response) send(req, res, answer);
    else void settle(req, res, answer); // a promise, a thenable, or something to refuse
  }

  async function settle(
    req: IncomingMessage,
    res: ServerResponse,
    pending: Promise<Response> | Response,
  ): Promise<void> {
    let response: Response;
    try {
      response = checked(await pending);
    } catch (error) {
      response = handlerFailed(error);
    }
    send(req, res, response);
  }

  /** A throw or a non-Response becomes a 500; the process keeps serving. */
  function handlerFailed(error: unknown): Response {
    onError(error);
    return serverErrorResponse();
  }

  function checked(response: Response): Response {
    if (response instanceof Response || isResponseLike(response)) return response;
    return handlerFailed(
      new TypeError(
        `Cannot send response: the handler returned ${Object.prototype.toString.call(response)}, not a Response`,
      ),
    );
  }

  function send(req: IncomingMessage, res: ServerResponse, response: Response): void {
    // The client left while the handler ran: its stream (a subscription) is freed now. This is
    // what lets a handler that got `directStreams` leave `request.signal` unread.
    if (res.destroyed) return discardResponse(response);
    if (closing !== undefined) res.setHeader("connection", "close");
    const head = req.method === "HEAD";
    const direct = directResponse(response);
    if (direct === undefined) return void sendGeneric(res, response, head);
    try {
      if (sendDirectResponse(res, direct, head, true)) writingDirectly(res);
    } catch (error) {
      void sendFailed(res, response, error);
    }
  }

  async function sendGeneric(res: ServerResponse, response: Response, head: boolean): Promise<void> {
    try {
      if (await sendWebResponse(res, response, { head, onError, closedByCaller: true })) writingDirectly(res);
    } catch (error) {
      await sendFailed(res, response, error);
    }
  }

  /** `res` now carries an event stream written directly, which ends itself (or by shutdown). */
  function writingDirectly(res: ServerResponse): void {
    if (!open.has(res)) return;
    open.set(res, undefined);
    // Shutdown began while the handler ran: the stream it made did not watch the signal that
    // shutdown aborted, so end it as shutdown ends the others.
    if (closing !== undefined) endDirectStream(res);
  }

  /** Headers Node refuses (e.g. non-Latin-1 values) fail before anything is sent: a 500 instead. */
  async function sendFailed(res: ServerResponse, response: Response, error: unknown): Promise<void> {
    onError(error);
    discardResponse(response);
    if (res.headersSent) return void res.destroy();
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusMessage = ""; // back to the default text for the new status
    await sendWebResponse(res, serverErrorResponse());
  }

  function close(): Promise<void> {
    closing ??= new Promise<void>((resolve) => {
      const cutoff = setTimeout(() => server.closeAllConnections(), options.shutdownTimeoutMs ?? SHUTDOWN_TIMEOUT_MS);
      server.close(() => {
        clearTimeout(cutoff);
        resolve();
      });
      for (const [res, request] of open) {
        if (request === undefined) endDirectStream(res);
        else abortRequest(request, new Error("The server is shutting down"));
      }
      server.closeIdleConnections();
    });
    return closing;
  }

  const address = await listen(server, options.port ?? 0, options.host ?? "127.0.0.1", options.backlog ?? BACKLOG);
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  if (options.signal?.aborted === true) void close();
  options.onListen?.(address);
  return { ...address, server, close };
}

/** A `Response` from another realm or fetch implementation (e.g. the `undici` package's). */
function isResponseLike(value: unknown): value is Response {
  const response = value as Partial<Response> | null;
  return (
    typeof response === "object" &&
    response !== null &&
    typeof response.status === "number" &&
    typeof response.headers?.getSetCookie === "function" &&
    (response.body === null || typeof response.body?.getReader === "function")
  );
}

function listen(server: Server, port: number, host: string, backlog: number): Promise<ListenAddress> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, backlog }, () => {
      server.off("error", reject);
      const info = server.address() as AddressInfo;
      resolve(listenAddress(info.address, info.port));
    });
  });
}
