/**
 * Private: a web `Request` from a `node:http` `IncomingMessage`.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { urlHost } from "./_serve.ts";

/** Bytes of request body buffered ahead of the handler before the socket is paused. */
const BODY_HIGH_WATER = 64 * 1024;

/** A request, and what the mount does with its body once the response is sent. */
export type NodeRequest = {
  request: Request;
  /**
   * Call when the response has been sent: whatever of the body has not arrived yet is read and
   * discarded (a handler still reading it gets an error), as Node does for an unread body, so
   * the connection can carry the next request. The server's `requestTimeout` bounds a body that
   * never ends. `undefined` for GET and HEAD, which have no body.
   */
  discardUnread: (() => void) | undefined;
};

/**
 * Builds the `Request` for `req`: method, absolute URL (from the `Host` header, else the local
 * address), headers in their original order, and for methods other than GET and HEAD the body
 * as a byte stream read at the handler's pace.
 *
 * @param req The incoming message.
 * @param signal Aborted by the caller when the client goes away.
 * @returns The request, and the body's clean-up.
 * @throws {TypeError} If the target or `Host` header cannot form a URL, or the method is one the
 *   fetch standard forbids (`CONNECT`, `TRACE`, `TRACK`).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const controller = new AbortController();
 *   const { request, discardUnread } = toWebRequest(req, controller.signal);
 *   res.end(`${request.method} ${request.url}`, discardUnread);
 * });
 * ```
 */
export function toWebRequest(req: IncomingMessage, signal: AbortSignal): NodeRequest {
  const url = requestUrl(req);
  const method = req.method ?? "GET";
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (method === "GET" || method === "HEAD") return { request: new Request(url, init), discardUnread: undefined };
  const body = bodyStream(req);
  init.body = body.stream;
  init.duplex = "half"; // required by fetch for a stream body
  try {
    return { request: new Request(url, init), discardUnread: body.discardUnread };
  } catch (error) {
    body.discardUnread();
    throw error;
  }
}

function requestUrl(req: IncomingMessage): string {
  const target = req.url ?? "/";
  // Absolute form (`GET http://host/path`), as proxies send it.
  if (/^https?:\/\//i.test(target)) return new URL(target).href;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
  // The local address only when Host is missing (HTTP/1.0): reading it costs a syscall.
  const host = req.headers.host ?? `${urlHost(req.socket.localAddress ?? "127.0.0.1")}:${req.socket.localPort ?? 80}`;
  if (host === "" || /[\s/?#@\\]/.test(host)) {
    throw new TypeError(`Cannot build request URL: the Host header "${host}" is not a host`);
  }
  // Concatenate rather than `new URL(target, base)`: a target like `//evil/x` must stay a path.
  return new URL(`${scheme}://${host}${target.startsWith("/") ? target : `/${target}`}`).href;
}

/**
 * The body as a pull-paced byte stream: the socket is paused while `BODY_HIGH_WATER` bytes wait
 * unread.
 */
function bodyStream(req: IncomingMessage): { stream: ReadableStream<Uint8Array>; discardUnread(): void } {
  let attached = true;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const detach = () => {
    attached = false;
    req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
  };
  const onData = (chunk: Buffer) => {
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((controller.desiredSize ?? 0) <= 0) req.pause();
  };
  const onEnd = () => {
    detach();
    controller.close();
  };
  const onError = (error: Error) => {
    detach();
    controller.error(error);
  };
  // The client left before the body ended (Node may emit only `close`, not `error`).
  const onClose = () => onError(new Error("Cannot read request body: the client closed the connection"));
  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
      },
      pull() {
        if (attached) req.resume();
      },
      cancel() {
        detach();
      },
    },
    { highWaterMark: BODY_HIGH_WATER, size: (chunk) => chunk.byteLength },
  );
  const discardUnread = () => {
    if (req.complete) return;
    if (attached) {
      detach();
      controller.error(new Error("Cannot read request body: the response was already sent"));
    }
    req.on("error", () => {}).resume();
  };
  return { stream, discardUnread };
}
