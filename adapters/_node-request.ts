/**
 * Private: the web `Request` the Node mount gives its handler, for a `node:http` `IncomingMessage`.
 *
 * Why it is lazy: an event-stream subscriber's request is read for its method, URL, one header
 * and its signal, then dropped. Building a real undici `Request` for it (URL parsing again, a
 * `Headers` copy, an `AbortController` of its own that follows ours) costs ~15–40 µs and a few
 * KiB of garbage per connection, and a crowd of clients connecting at once turns that garbage
 * into a larger young generation of the V8 heap, which the process keeps: resident memory per
 * open stream. So the handler gets a {@link NodeRequest}: a `Request` (its prototype chain ends
 * at `Request.prototype`) whose `method` and `url` are plain strings, whose `headers` and
 * `signal` are made when first read, and which builds the real `Request` (same URL, headers,
 * signal and body stream) only when something else is used: the body, `text()`, `clone()`, ...
 * The same design as `@hono/node-server`'s request.
 *
 * @module
 */
import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import { urlHost } from "./_serve.ts";

/** Bytes of request body buffered ahead of the handler before the socket is paused. */
const BODY_HIGH_WATER = 64 * 1024;

/** Methods the fetch standard forbids in a `Request` (`new Request` throws for them). */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/** Methods the fetch standard upper-cases ("normalize a method"); others are kept as sent. */
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

/** The answers to a request whose `Host` header, or else whose target, no URL can be made of. */
const BAD_HOST = "The Host header is not a valid host";
const BAD_TARGET = "The request target is not a valid URL";

/**
 * What {@link toWebRequest} throws for a request no `Request` can represent (a method the fetch
 * standard forbids, a `Host` header that is not a host, a target that is not a URL or carries
 * credentials). Its message is fit to send back to the client as it is: one fixed sentence per
 * cause, with nothing the client sent (method, host, target, credentials) in it.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { toWebRequest, UnrepresentableRequestError } from "./_node-request.ts";
 * createServer((req, res) => {
 *   try {
 *     res.end(toWebRequest(req).url);
 *   } catch (error) {
 *     res.statusCode = 400;
 *     res.end(error instanceof UnrepresentableRequestError ? error.message : "The request cannot be read");
 *   }
 * });
 * ```
 */
export class UnrepresentableRequestError extends TypeError {
  override readonly name = "UnrepresentableRequestError";
}

/**
 * A web `Request` over a Node `IncomingMessage`, made as it is read: see the module's doc. It is
 * `instanceof Request` and answers every property and method of one; the mount aborts its
 * signal (made or not yet) with {@link abortRequest} and discards an unread body with
 * {@link discardUnreadBody}.
 *
 * One thing differs from a real `Request`: once the real one is built (the body was read, or the
 * request cloned or passed to `fetch`), a change made after that through `headers` no longer
 * reaches what `fetch(request)` or `new Request(request)` send; changes made before it do.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const request = toWebRequest(req);
 *   res.end(`${request.method} ${request.url} ${request instanceof Request}`);
 * });
 * ```
 */
// Not `implements Request`: every runtime's `Request` type has its own extra members (Deno's
// `textStream`, ...); its prototype chain ends at `Request.prototype`, which is what counts at run time.
export class NodeRequest {
  readonly #method: string;
  readonly #url: string;
  /** `IncomingMessage.rawHeaders`: names and values in the order they came, `Headers` made from them when read. */
  readonly #rawHeaders: string[];
  /** The body for methods other than GET and HEAD, as a stream, attached to the message at once. */
  readonly #body: RequestBody | undefined;
  #headers: Headers | undefined;
  #controller: AbortController | undefined;
  /** Why the request was aborted (the client left, the server shuts down) before its signal was read. */
  #abortReason: Error | undefined;
  /** The real `Request`, once something needed it. */
  #request: Request | undefined;

  /** Use {@link toWebRequest}. */
  constructor(method: string, url: string, rawHeaders: string[], body: RequestBody | undefined) {
    this.#method = method;
    this.#url = url;
    this.#rawHeaders = rawHeaders;
    this.#body = body;
  }

  get method(): string {
    return this.#method;
  }

  get url(): string {
    return this.#url;
  }

  get headers(): Headers {
    if (this.#headers === undefined) {
      const headers = new Headers();
      const raw = this.#rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i] as string, raw[i + 1] as string);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  // The body stream is the one the real request would carry: handed over as it is, without
  // building the real request (an undici Request, its AbortSignal and body extraction are a third
  // of what a posted message costs the server). No body for GET and HEAD.
  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    if (this.#body === undefined) return null;
    return this.#request === undefined
      ? (this.#body.stream as ReadableStream<Uint8Array<ArrayBuffer>>)
      : this.#request.body;
  }

  get bodyUsed(): boolean {
    if (this.#body === undefined) return false;
    return this.#request === undefined ? disturbed(this.#body.stream) : this.#request.bodyUsed;
  }

  // Everything below is the real request's.
  get cache(): RequestCache {
    return this.#real().cache;
  }
  get credentials(): RequestCredentials {
    return this.#real().credentials;
  }
  get destination(): RequestDestination {
    return this.#real().destination;
  }
  get integrity(): string {
    return this.#real().integrity;
  }
  get keepalive(): boolean {
    return this.#real().keepalive;
  }
  get mode(): RequestMode {
    return this.#real().mode;
  }
  get redirect(): RequestRedirect {
    return this.#real().redirect;
  }
  get referrer(): string {
    return this.#real().referrer;
  }
  get referrerPolicy(): ReferrerPolicy {
    return this.#real().referrerPolicy;
  }
  clone(): Request {
    if (!this.#bodyUsable()) throw unusable();
    return this.#real().clone();
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#bodyUsable() ? this.#real().arrayBuffer() : Promise.reject(unusable());
  }
  blob(): Promise<Blob> {
    return this.#bodyUsable() ? this.#real().blob() : Promise.reject(unusable());
  }
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#bodyUsable() ? this.#real().bytes() : Promise.reject(unusable());
  }
  formData(): Promise<FormData> {
    return this.#bodyUsable() ? this.#real().formData() : Promise.reject(unusable());
  }
  json(): Promise<unknown> {
    return this.#bodyUsable() ? this.#real().json() : Promise.reject(unusable());
  }
  text(): Promise<string> {
    return this.#bodyUsable() ? this.#real().text() : Promise.reject(unusable());
  }

  /**
   * Whether the body can still be read or cloned: not yet read through the stream handed out by
   * `body` (a real request answers a used or locked body with a TypeError, and so does this one).
   */
  #bodyUsable(): boolean {
    if (this.#request !== undefined || this.#body === undefined) return true;
    const stream = this.#body.stream;
    return !stream.locked && !disturbed(stream);
  }

  /**
   * The real `Request`: the same method, URL, headers and body stream, and a signal that follows
   * this one's. Built once.
   */
  #real(): Request {
    if (this.#request === undefined) {
      const init: RequestInit & { duplex?: "half" } = {
        method: this.#method,
        headers: this.headers,
        signal: this.signal,
      };
      // A body already read through `body` cannot be given to a Request (it would throw): then
      // the real one has none, for what it is still needed for (its other fields, forwarding).
      if (this.#body !== undefined && this.#bodyUsable()) {
        init.body = this.#body.stream;
        init.duplex = "half"; // required by fetch for a stream body
      }
      try {
        this.#request = new Request(this.#url, init);
      } catch (error) {
        // A body read to its end where that cannot be seen (Deno's streams): build it without.
        if (init.body === undefined) throw error;
        init.body = null;
        this.#request = new Request(this.#url, init);
      }
    }
    return this.#request;
  }

  /** See {@link materialize}. */
  static materialize(request: NodeRequest): Request {
    return request.#real();
  }

  /** See {@link abortRequest}. */
  static abort(request: NodeRequest, reason: Error): void {
    if (request.#controller !== undefined) request.#controller.abort(reason);
    else request.#abortReason ??= reason;
  }

  /** See {@link discardUnreadBody}. */
  static discardUnread(request: NodeRequest): void {
    request.#body?.discardUnread();
  }

  /** See {@link hasBody}. */
  static hasBody(request: NodeRequest): boolean {
    return request.#body !== undefined;
  }
}

/**
 * Completes {@link NodeRequest}'s prototype, once, on first use (nothing runs on import), and
 * finds out whether a lazy request can be passed on (`fetch(request)`, `new Request(request)`).
 *
 * - Whatever else `Request.prototype` has on this runtime (`duplex`, `isReloadNavigation`,
 *   `Symbol.toStringTag`, Node's inspect hook, members added later) is the real request's: its
 *   accessors and methods check that `this` is a real one, so each is forwarded to it.
 * - `new Request(request)` and `fetch(request)` read the input's state through symbol-keyed own
 *   properties of a real request on Node 20 and 22 (undici 6): forwarded too. Undici 7 (Node 24)
 *   keeps that state in private fields, which nothing can forward: there the probe fails, and
 *   the mount gives handlers the real request, built at once, as before requests were lazy (a
 *   handler that passes its request to `fetch` must keep working).
 */
function prepare(): boolean {
  const proto = NodeRequest.prototype;
  // The prototype chain ends at Request's, so `request instanceof Request` holds, and
  // `request.constructor` is `Request`, as for a real one.
  Object.setPrototypeOf(proto, Request.prototype);
  Object.defineProperty(proto, "constructor", { value: Request, writable: true, configurable: true });
  const own = (key: PropertyKey) => Object.hasOwn(proto, key);
  for (const key of Reflect.ownKeys(Request.prototype)) {
    if (own(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
    const enumerable = descriptor.enumerable ?? false;
    if (descriptor.get !== undefined) {
      const get = descriptor.get;
      Object.defineProperty(proto, key, {
        get(this: NodeRequest) {
          return Reflect.apply(get, NodeRequest.materialize(this), []);
        },
        configurable: true,
        enumerable,
      });
    } else if (typeof descriptor.value === "function") {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        value(this: NodeRequest, ...args: unknown[]) {
          return Reflect.apply(method, NodeRequest.materialize(this), args);
        },
        writable: true,
        configurable: true,
        enumerable,
      });
    } else Object.defineProperty(proto, key, descriptor);
  }
  for (const key of Object.getOwnPropertySymbols(new Request("http://localhost/"))) {
    if (own(key)) continue;
    Object.defineProperty(proto, key, {
      get(this: NodeRequest) {
        return (NodeRequest.materialize(this) as unknown as Record<symbol, unknown>)[key];
      },
      set(this: NodeRequest, value: unknown) {
        (NodeRequest.materialize(this) as unknown as Record<symbol, unknown>)[key] = value;
      },
      configurable: true,
    });
  }
  try {
    const probe = new NodeRequest("POST", "http://localhost/", ["x-probe", "1"], undefined);
    const copy = new Request(probe as unknown as Request);
    return copy.method === "POST" && copy.headers.get("x-probe") === "1";
  } catch {
    return false;
  }
}

/**
 * Whether a body stream was read from or cancelled. Node's `isDisturbed` sees it on its web
 * streams; elsewhere (Deno's node:stream) a locked stream is all that shows.
 */
function disturbed(stream: ReadableStream<Uint8Array>): boolean {
  return Readable.isDisturbed(stream as unknown as NodeJS.ReadableStream);
}

/** What a real request's body methods throw for a used body (undici's words). */
function unusable(): TypeError {
  return new TypeError("Body is unusable: Body has already been read");
}

/** What {@link prepare} found: `undefined` until the first request. */
let forwardable: boolean | undefined;

/**
 * Builds the request for `req`: method, absolute URL (from the `Host` header, else the local
 * address), headers in their original order, and for methods other than GET and HEAD the body
 * as a byte stream read at the handler's pace (attached to `req` at once, so what arrives before
 * the handler reads it is kept). Everything a real `Request` would refuse is refused here.
 *
 * @param req The incoming message.
 * @returns The request: a {@link NodeRequest}.
 * @throws {UnrepresentableRequestError} If the target or `Host` header cannot form a URL, the URL
 *   has credentials, or the method is one the fetch standard forbids (`CONNECT`, `TRACE`, `TRACK`).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { abortRequest, toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const request = toWebRequest(req);
 *   res.on("close", () => abortRequest(request, new Error("The client closed the connection")));
 *   res.end(`${request.method} ${request.url}`);
 * });
 * ```
 */
export function toWebRequest(req: IncomingMessage): NodeRequest {
  forwardable ??= prepare();
  const url = requestUrl(req);
  const method = requestMethod(req.method ?? "GET");
  const body = method === "GET" || method === "HEAD" ? undefined : bodyStream(req);
  return new NodeRequest(method, url, req.rawHeaders, body);
}

/**
 * The request to hand the handler: `request` itself, or, on a runtime where a lazy request
 * cannot be passed to `fetch` / `new Request` (undici 7), the real one, built now.
 *
 * @param request From {@link toWebRequest}.
 * @returns What the handler gets.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { forHandler, toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => void res.end(forHandler(toWebRequest(req)).url));
 * ```
 */
export function forHandler(request: NodeRequest): Request {
  if (!forwardable) {
    try {
      return NodeRequest.materialize(request);
    } catch (error) {
      NodeRequest.discardUnread(request);
      throw error;
    }
  }
  return request as unknown as Request;
}

/**
 * Aborts the request's signal with `reason`, or, if nobody has read the signal yet, makes it
 * aborted from the start whenever it is read. The first reason wins.
 *
 * @param request From {@link toWebRequest}.
 * @param reason Why: the client left, the server shuts down.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { abortRequest, toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const request = toWebRequest(req);
 *   abortRequest(request, new Error("The server is shutting down"));
 *   res.end(String(request.signal.aborted)); // "true"
 * });
 * ```
 */
export function abortRequest(request: NodeRequest, reason: Error): void {
  NodeRequest.abort(request, reason);
}

/**
 * Whether the request has a body (any method but GET and HEAD): then the mount calls
 * {@link discardUnreadBody} once its response is sent.
 *
 * @param request From {@link toWebRequest}.
 * @returns `true` if it has a body stream.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { hasBody, toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => res.end(hasBody(toWebRequest(req)) ? "with a body" : "GET or HEAD"));
 * ```
 */
export function hasBody(request: NodeRequest): boolean {
  return NodeRequest.hasBody(request);
}

/**
 * Call when the response has been sent: whatever of the body has not arrived yet is read and
 * discarded (a handler still reading it gets an error), as Node does for an unread body, so the
 * connection can carry the next request. The server's `requestTimeout` bounds a body that never
 * ends. Does nothing for a request without a body.
 *
 * @param request From {@link toWebRequest}.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { discardUnreadBody, toWebRequest } from "./_node-request.ts";
 * createServer((req, res) => {
 *   const request = toWebRequest(req);
 *   res.end("ignored your body", () => discardUnreadBody(request));
 * });
 * ```
 */
export function discardUnreadBody(request: NodeRequest): void {
  NodeRequest.discardUnread(request);
}

function requestMethod(method: string): string {
  const upper = method.toUpperCase();
  // Node's parser only passes known methods, upper-case, but `new Request` checked this: so do we.
  if (FORBIDDEN_METHODS.has(upper)) throw new UnrepresentableRequestError("The request method is not supported");
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

function requestUrl(req: IncomingMessage): string {
  const target = req.url ?? "/";
  // Absolute form (`GET http://host/path`), as proxies send it.
  if (/^https?:\/\//i.test(target)) {
    const url = URL.parse(target);
    if (url === null) throw new UnrepresentableRequestError(BAD_TARGET);
    if (url.username !== "" || url.password !== "") {
      throw new UnrepresentableRequestError("The request target must not carry credentials");
    }
    return url.href;
  }
  const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? "https" : "http";
  // The local address only when Host is missing (HTTP/1.0): reading it costs a syscall.
  const host = req.headers.host ?? `${urlHost(req.socket.localAddress ?? "127.0.0.1")}:${req.socket.localPort ?? 80}`;
  if (host === "" || /[\s/?#@\\]/.test(host)) throw new UnrepresentableRequestError(BAD_HOST);
  const url = `${scheme}://${host}${target.startsWith("/") ? target : `/${target}`}`;
  // What the URL parser would give back unchanged needs no parsing (and no URL object per
  // request); anything else is parsed. Concatenate rather than `new URL(target, base)`: a target
  // like `//evil/x` must stay a path.
  if (isCanonical(host, target, scheme)) return url;
  const parsed = URL.parse(url);
  if (parsed !== null) return parsed.href;
  // Which part is at fault, for the answer: the host alone, or else the target.
  throw new UnrepresentableRequestError(URL.canParse(`${scheme}://${host}/`) ? BAD_TARGET : BAD_HOST);
}

/**
 * A host the URL parser keeps as it is: a lower-case name whose last label does not start with a
 * digit (else the parser reads it as an IPv4 address), with or without a port.
 */
const CANONICAL_HOST = /^(?:[a-z0-9-]+\.)*[a-z-][a-z0-9-]*(?::[1-9][0-9]{0,4})?$/;
/** A dotted-quad IPv4 address as the URL parser writes it, with a port. */
const CANONICAL_IPV4 =
  /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?::[1-9][0-9]{0,4})?$/;
/**
 * A path and query the URL parser keeps as they are: characters it neither percent-encodes nor
 * rewrites (no `\\`, `'`, `#`, spaces or controls), and no dot segment (`.`, `..`, `%2e`) to resolve.
 */
const CANONICAL_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/%?]*$/;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e)/i;

/**
 * Whether `scheme://host` + `target` is already what `new URL(...).href` would return: then the
 * string is the URL. Conservative: anything unusual is left to the parser.
 */
function isCanonical(host: string, target: string, scheme: string): boolean {
  if (!CANONICAL_TARGET.test(target)) return false;
  const query = target.indexOf("?");
  if (DOT_SEGMENT.test(query < 0 ? target : target.slice(0, query))) return false;
  const port = host.lastIndexOf(":");
  if (port >= 0) {
    const number = Number(host.slice(port + 1));
    if (number > 65535 || number === (scheme === "https" ? 443 : 80)) return false; // dropped by the parser
  }
  const name = port < 0 ? host : host.slice(0, port);
  if (name.startsWith("xn--") || name.includes(".xn--")) return false; // checked as IDNA by the parser
  return CANONICAL_IPV4.test(host) || CANONICAL_HOST.test(host);
}

/** A request's body: the stream, and what the mount calls once the response is sent. */
type RequestBody = { stream: ReadableStream<Uint8Array>; discardUnread(): void };

/**
 * The body as a pull-paced byte stream: the socket is paused while `BODY_HIGH_WATER` bytes wait
 * unread.
 */
function bodyStream(req: IncomingMessage): RequestBody {
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
