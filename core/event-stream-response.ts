/**
 * An event stream as a `Response`, with the headers SSE needs through proxies.
 *
 * @module
 */
import { DirectEventStreamResponse, flatList } from "./_direct-response.ts";
import { pushStreamOf, toEventStream } from "./to-event-stream.ts";
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
  /**
   * The server mount writes event streams over push sources straight to its connections (the
   * Node mount says so in its `ConnectionInfo`: `directStreams`). For a push source with the
   * default status, the response then makes its body stream, and its real `Response`, only if
   * something reads them; the mount takes the stream without either (`directResponse`). Leave it
   * off for any other server: its `Response` must be a real one.
   */
  direct?: boolean;
};

/**
 * Wraps {@link toEventStream} in a `Response` with `Content-Type: text/event-stream;
 * charset=utf-8`, `Cache-Control: no-cache, no-transform` (no proxy caching or compression) and
 * `X-Accel-Buffering: no` (nginx streams it instead of buffering). Extra headers are added;
 * hop-by-hop headers are refused.
 *
 * With `direct` (for a mount that says it takes push streams itself) and a push source, the
 * response is one made as it is read: it is a `Response` in every respect, but it builds its
 * body stream and the real `Response` only if something uses them, which the mount does not.
 *
 * @param source The messages (see {@link toEventStream}).
 * @param init Stream options, `status` (default 200), `statusText`, extra `headers`, `direct`.
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
 *
 * @example A push source, for a mount that takes push streams (`info.directStreams`)
 * ```ts
 * import { eventStreamResponse, PUSH_SOURCE, type PushConsumer } from "./mod.ts";
 * const listeners = new Set<PushConsumer>();
 * const room = { [PUSH_SOURCE]: (consumer: PushConsumer) => (listeners.add(consumer), () => listeners.delete(consumer)) };
 * const handler = (request: Request, info: { directStreams?: boolean }) =>
 *   // The mount ends the stream when the client leaves: no signal needed then.
 *   eventStreamResponse(room, info.directStreams === true ? { direct: true } : { signal: request.signal });
 * const response = handler(new Request("http://localhost/events"), {});
 * await response.body?.cancel();
 * ```
 */
export function eventStreamResponse(source: MessageSource, init: EventStreamResponseInit = {}): Response {
  if (init.direct === true && (init.status ?? 200) === 200 && init.statusText === undefined) {
    const list = directHeaders(init.headers); // checked before the stream holds the source
    const stream = pushStreamOf(source, init);
    // A real Response is what everyone else expects: only the response is lazy, not its contract.
    if (stream !== undefined) return new DirectEventStreamResponse(stream, list) as unknown as Response;
  }
  const response: ResponseInit = { status: init.status ?? 200, headers: streamHeaders(init.headers) };
  if (init.statusText !== undefined) response.statusText = init.statusText;
  return new Response(toEventStream(source, init), response);
}

/** The flat header lists of frozen plain `extra` objects (see `streamHeaders`): one per server, not per stream. */
const DIRECT_HEADERS = new WeakMap<object, readonly string[]>();
let defaultList: readonly string[] | undefined;

function directHeaders(extra: HeadersInit | undefined): readonly string[] {
  if (extra === undefined) return (defaultList ??= Object.freeze(flatList(withStreamHeaders(undefined))));
  if (!Object.isFrozen(extra) || Object.getPrototypeOf(extra) !== Object.prototype) {
    return flatList(withStreamHeaders(extra));
  }
  let list = DIRECT_HEADERS.get(extra);
  if (list === undefined) DIRECT_HEADERS.set(extra, (list = Object.freeze(flatList(withStreamHeaders(extra)))));
  return list;
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
