/**
 * An event stream as a `Response`, with the headers SSE needs through proxies.
 *
 * @module
 */
import { toEventStream } from "./to-event-stream.ts";
import type { EventStreamOptions, MessageSource } from "./types.ts";

// Hop-by-hop headers belong to the server (and are forbidden in HTTP/2): never set them here.
const HOP_BY_HOP = ["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection"];

/**
 * Options of {@link eventStreamResponse}: the stream options plus `status` and extra `headers`.
 *
 * @example
 * ```ts
 * import type { EventStreamResponseInit } from "./mod.ts";
 * const init: EventStreamResponseInit = { heartbeat: 15_000, headers: { "x-room": "lobby" } };
 * ```
 */
export type EventStreamResponseInit = EventStreamOptions & {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
};

/**
 * Wraps {@link toEventStream} in a `Response` with `Content-Type: text/event-stream;
 * charset=utf-8`, `Cache-Control: no-cache, no-transform` (no proxy caching or compression) and
 * `X-Accel-Buffering: no` (nginx streams it instead of buffering). Extra headers are added;
 * hop-by-hop headers are refused.
 *
 * @param source The messages (see {@link toEventStream}).
 * @param init Stream options, `status` (default 200), `statusText`, extra `headers`.
 * @returns The response; hand it to any web-standard server.
 * @throws {TypeError} If `init.headers` holds a hop-by-hop header such as `Connection`.
 *
 * @example Usage (Deno, Bun, or eddy's Node adapter)
 * ```ts
 * import { eventStreamResponse } from "./mod.ts";
 * async function* greetings() {
 *   yield "hello";
 *   yield { event: "bye", data: "see you" };
 * }
 * const handler = (request: Request) => eventStreamResponse(greetings(), { signal: request.signal });
 * ```
 */
export function eventStreamResponse(source: MessageSource, init: EventStreamResponseInit = {}): Response {
  const response: ResponseInit = { status: init.status ?? 200, headers: streamHeaders(init.headers) };
  if (init.statusText !== undefined) response.statusText = init.statusText;
  return new Response(toEventStream(source, init), response);
}

/**
 * The header list for `extra` as a frozen record, computed once per frozen plain object (such as
 * `SECURITY_HEADERS`), which cannot change: a server answering every subscriber with the same
 * extra headers builds no intermediate `Headers` per stream, and a record is the cheapest init
 * for the `Response` to copy.
 */
const FROZEN_HEADERS = new WeakMap<object, Readonly<Record<string, string>>>();
let defaultHeaders: Readonly<Record<string, string>> | undefined;

function streamHeaders(extra: HeadersInit | undefined): HeadersInit {
  if (extra === undefined) return (defaultHeaders ??= Object.freeze(Object.fromEntries(withStreamHeaders(undefined))));
  const cacheable = Object.isFrozen(extra) && Object.getPrototypeOf(extra) === Object.prototype;
  if (!cacheable) return withStreamHeaders(extra);
  let record = FROZEN_HEADERS.get(extra);
  if (record === undefined) {
    const headers = withStreamHeaders(extra);
    const asOne = asRecord(headers);
    if (asOne === undefined) return headers; // several set-cookie values: a record holds one
    FROZEN_HEADERS.set(extra, (record = asOne));
  }
  return record;
}

function withStreamHeaders(extra: HeadersInit | undefined): Headers {
  const headers = new Headers(extra);
  for (const name of HOP_BY_HOP) {
    if (headers.has(name)) {
      throw new TypeError(
        `Cannot create event stream response: "${name}" is a hop-by-hop header, which the server manages`,
      );
    }
  }
  headers.set("content-type", "text/event-stream; charset=utf-8");
  headers.set("cache-control", "no-cache, no-transform");
  headers.set("x-accel-buffering", "no");
  return headers;
}

/** `headers` as a frozen record, or `undefined` if it has more than one `Set-Cookie`. */
function asRecord(headers: Headers): Readonly<Record<string, string>> | undefined {
  if (headers.getSetCookie().length > 1) return undefined;
  return Object.freeze(Object.fromEntries(headers));
}
