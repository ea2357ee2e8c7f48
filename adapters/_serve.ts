/**
 * Private: what every runtime mount shares (`adapters/node.ts`, `bun.ts`, `deno.ts`): the
 * options and server shape, so a program runs unchanged on each, the shutdown bound, and how a
 * listening address is written as a URL.
 *
 * @module
 */

/**
 * How long `close()` lets open responses end on their own before it cuts their connections, so
 * a shutdown has a bound. The program ends its event streams first; what is left after this is
 * a client that does not read.
 */
export const SHUTDOWN_TIMEOUT_MS = 3000;

/**
 * What every mount answers a `CONNECT` request, before any handler sees it. `CONNECT` asks for a
 * tunnel to another server (RFC 9110, "CONNECT"): a proxy's job, not an origin server's. `405`
 * with an empty `Allow` (RFC 9110, "Allow": an empty value means the target allows no method),
 * since its target is a host and port, not a resource here; then the connection is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse } from "../core/mod.ts";
 * import { CONNECT_REFUSAL } from "./_serve.ts";
 * const { status, message, headers } = CONNECT_REFUSAL;
 * const response = errorResponse(status, message, { ...headers, connection: "close" });
 * assert.equal(response.status, 405);
 * assert.equal(response.headers.get("allow"), "");
 * ```
 */
export const CONNECT_REFUSAL = {
  status: 405,
  message: "CONNECT is not served here: this server is not a proxy",
  headers: { allow: "" },
} as const;

/**
 * `host` as it goes into a URL's authority: an IPv6 address in brackets (RFC 3986, "IP-literal").
 *
 * @param host A host name, IPv4 or IPv6 address.
 * @returns The host, bracketed if it is an IPv6 address.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { urlHost } from "./_serve.ts";
 * assert.equal(urlHost("::1"), "[::1]");
 * assert.equal(urlHost("127.0.0.1"), "127.0.0.1");
 * ```
 */
export function urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * The {@link ListenAddress} of a server listening on `host` and `port`.
 *
 * @param host The address the server is bound to.
 * @param port Its port.
 * @returns Host, port and the `http://` URL to reach it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listenAddress } from "./_serve.ts";
 * assert.deepEqual(listenAddress("::1", 8080), { host: "::1", port: 8080, url: "http://[::1]:8080" });
 * ```
 */
export function listenAddress(host: string, port: number): ListenAddress {
  return { host, port, url: `http://${urlHost(host)}:${port}` };
}

/** What a mount knows of the connection a request came on. */
export type ConnectionInfo = {
  /** The peer's IP address (an IPv4-mapped IPv6 address as the runtime reports it), if known. */
  readonly remoteAddress?: string;
  /**
   * `true` when the mount writes an event stream over a push source straight to the connection
   * and ends it when the client leaves, even one that leaves before the response is sent (the
   * Node mount): the handler may then answer with `eventStreamResponse(source, { direct: true })`
   * (no body stream or `Response` is built for it unless read) and need not pass it
   * `request.signal`. Set by the Node mount (and so the Deno mount, built on it); absent on
   * mounts that need a real `Response` (Bun's).
   */
  readonly directStreams?: boolean;
};

/**
 * Anything that answers a web `Request`, such as `createChatApp(...).fetch`; the mount passes
 * what it knows of the connection as the second argument (the chat's rate limits use it).
 */
export type Handler = (request: Request, info: ConnectionInfo) => Response | Promise<Response>;

/** Where a server listens. */
export type ListenAddress = { host: string; port: number; url: string };

/** Options every mount accepts. */
export type ServeOptions = {
  /** TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** Interface; default `127.0.0.1`. */
  host?: string;
  /** Where handler failures are reported; default `console.error`. */
  onError?(error: unknown): void;
};

/** A running server, whatever the runtime. */
export type RuntimeServer = ListenAddress & {
  /** Stops accepting connections and resolves once open ones are closed (bounded). Idempotent. */
  close(): Promise<void>;
};
