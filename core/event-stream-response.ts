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
  const headers = new Headers(init.headers);
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
  const response: ResponseInit = { status: init.status ?? 200, headers };
  if (init.statusText !== undefined) response.statusText = init.statusText;
  return new Response(toEventStream(source, init), response);
}
