/**
 * Private: a web `Request` from a `node:http` `IncomingMessage`.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";

/** Bytes of request body buffered ahead of the handler before the socket is paused. */
const BODY_HIGH_WATER = 64 * 1024;

/** A request plus what the mount needs to know about its body afterwards. */
export type NodeRequest = {
  request: Request;
  /** True once the handler cancelled the body before reading all of it. */
  bodyAbandoned(): boolean;
};

/**
 * Builds the `Request` for `req`: method, absolute URL (from the `Host` header, else the local
 * address), headers in their original order and case-folded, and for methods other than GET
 * and HEAD the body as a byte stream read at the handler's pace.
 *
 * @param req The incoming message.
 * @param signal Aborted by the caller when the client goes away.
 * @returns The request.
 * @throws {TypeError} If the target or `Host` header cannot form a URL, or the method is one the
 *   fetch standard forbids (`CONNECT`, `TRACE`, `TRACK`).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const controller = new AbortController();
 *   const { request } = toWebRequest(req, controller.signal);
 *   res.end(`${request.method} ${request.url}`);
 * });
 * ```
 */
export function toWebRequest(req: IncomingMessage, signal: AbortSignal): NodeRequest {
  const method = req.method ?? "GET";
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  let abandoned = false;
  if (method !== "GET" && method !== "HEAD") {
    init.body = bodyStream(req, () => (abandoned = true));
    init.duplex = "half"; // required by fetch for a stream body
  }
  return { request: new Request(requestUrl(req), init), bodyAbandoned: () => abandoned };
}

function requestUrl(req: IncomingMessage): string {
  const target = req.url ?? "/";
  // Absolute form (`GET http://host/path`), as proxies send it.
  if (/^https?:\/\//i.test(target)) return new URL(target).href;
  const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
  const local = req.socket.localAddress ?? "127.0.0.1";
  const host = req.headers.host ?? `${local.includes(":") ? `[${local}]` : local}:${req.socket.localPort ?? 80}`;
  if (host === "" || /[\s/?#@\\]/.test(host)) {
    throw new TypeError(`Cannot build request URL: the Host header "${host}" is not a host`);
  }
  // Concatenate rather than `new URL(target, base)`: a target like `//evil/x` must stay a path.
  return new URL(`${scheme}://${host}${target.startsWith("/") ? target : `/${target}`}`).href;
}

/**
 * The body as a pull-paced byte stream: the socket is paused while `BODY_HIGH_WATER` bytes wait
 * unread. Cancelling stops reading; Node discards the rest once the response is sent.
 */
function bodyStream(req: IncomingMessage, onCancel: () => void): ReadableStream<Uint8Array> {
  let done = false;
  const detach = () => {
    done = true;
    req.off("data", onData).off("end", onEnd).off("error", onError).off("close", onClose);
  };
  let controller: ReadableStreamDefaultController<Uint8Array>;
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
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.on("data", onData).on("end", onEnd).on("error", onError).on("close", onClose);
      },
      pull() {
        if (!done) req.resume();
      },
      cancel() {
        detach();
        onCancel();
      },
    },
    { highWaterMark: BODY_HIGH_WATER, size: (chunk) => chunk.byteLength },
  );
}
