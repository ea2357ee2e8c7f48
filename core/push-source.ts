/**
 * Push sources: the fast path of fan-out. A pull-based stream asks its source for each event (a
 * promise per event per subscriber); a push source instead hands each event to its consumer the
 * moment it happens, and a server mount that knows the protocol can take the event stream's
 * bytes straight onto the connection ({@link attachSink}), with no stream machinery between the
 * hub and the socket. Everything else (any `ReadableStream` consumer, any server) keeps working
 * through the ordinary `Response` body.
 *
 * @module
 */
import type { EncodedEvent } from "./encoded-event.ts";
import type { EventMessage } from "./types.ts";

/**
 * The method key of a push source: `source[PUSH_SOURCE](consumer)` starts the pushing.
 *
 * @example
 * ```ts
 * import { PUSH_SOURCE, type PushSource } from "./mod.ts";
 * const once: PushSource = {
 *   [PUSH_SOURCE](consumer) {
 *     consumer.push({ data: "hello" });
 *     consumer.end();
 *     return () => {};
 *   },
 * };
 * ```
 */
export const PUSH_SOURCE: unique symbol = Symbol.for("eddy.push-source");

/**
 * What a push source delivers to (implemented by the event stream).
 *
 * @example
 * ```ts
 * import type { PushConsumer } from "./mod.ts";
 * const log: PushConsumer = { push: (item) => console.log(item), end: () => console.log("end") };
 * ```
 */
export interface PushConsumer {
  /** One event, now. The consumer never refuses: it bounds itself and detaches if it must. */
  push(item: EventMessage | EncodedEvent | string): void;
  /** The source has no more events: the stream ends cleanly. */
  end(): void;
}

/**
 * A source that pushes its events, e.g. a hub subscription. {@link toEventStream} recognises one
 * and attaches to it instead of iterating it. It may be an async iterable as well; the push
 * protocol then takes precedence.
 *
 * @example
 * ```ts
 * import { PUSH_SOURCE, type PushSource, toEventStream } from "./mod.ts";
 * const listeners = new Set<(text: string) => void>();
 * const source: PushSource = {
 *   [PUSH_SOURCE](consumer) {
 *     const listener = (text: string) => consumer.push({ data: text });
 *     listeners.add(listener);
 *     return () => listeners.delete(listener); // the stream was cancelled or cut
 *   },
 * };
 * const body = toEventStream(source, { heartbeat: 15_000 });
 * ```
 */
export interface PushSource {
  /**
   * Starts delivering to `consumer` (anything buffered first). Called at most once.
   *
   * @returns Stops the delivery and frees what the source holds for this consumer. Idempotent.
   */
  [PUSH_SOURCE](consumer: PushConsumer): () => void;
}

/**
 * Where a server mount lets an event stream write: the connection itself.
 *
 * @example
 * ```ts
 * import type { ByteSink } from "./mod.ts";
 * const chunks: Uint8Array[] = [];
 * const sink: ByteSink = {
 *   write: (bytes) => chunks.push(bytes) < 64,
 *   get buffered() {
 *     return chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
 *   },
 *   end: () => {},
 *   destroy: () => {},
 * };
 * ```
 */
export interface ByteSink {
  /** Writes bytes (not copied: do not keep them past the write); `false` once the buffer is full. */
  write(bytes: Uint8Array): boolean;
  /** Bytes written but not yet handed to the network. */
  readonly buffered: number;
  /** Ends the response cleanly. */
  end(): void;
  /** Cuts the connection, so the client sees a failure rather than a clean end. */
  destroy(error: Error): void;
}

/**
 * What the mount tells an attached stream.
 *
 * @example
 * ```ts
 * import type { AttachedStream } from "./mod.ts";
 * function onSocketEvents(stream: AttachedStream, socket: { on(e: string, f: () => void): void }) {
 *   socket.on("drain", () => stream.drained());
 *   socket.on("close", () => stream.cancel());
 * }
 * ```
 */
export interface AttachedStream {
  /** The sink's buffer emptied after a `write` returned `false`. */
  drained(): void;
  /**
   * The connection closed (stop, and free the source), or the server is shutting down (the
   * response is then ended cleanly). Idempotent.
   */
  cancel(reason?: unknown): void;
}

/** A stream body that can be attached to a sink instead of being read. */
export type Attachable = { attach(sink: ByteSink): AttachedStream | undefined };

const ATTACHABLE = new WeakMap<ReadableStream<Uint8Array>, Attachable>();

/**
 * Internal: marks `body` as the readable side of `stream`, for {@link attachSink}.
 *
 * @param body The readable side.
 * @param stream What attaches to a sink in its place.
 * @returns `body`.
 */
export function markAttachable(body: ReadableStream<Uint8Array>, stream: Attachable): ReadableStream<Uint8Array> {
  ATTACHABLE.set(body, stream);
  return body;
}

/**
 * The mount's fast path: if `body` is an event stream over a {@link PushSource} that nobody has
 * started reading, it writes to `sink` from now on — each event's shared bytes go straight to
 * the connection, heartbeats included — and `body` must then not be read. Otherwise returns
 * `undefined`, and the mount reads `body` as usual. Once attached, the stream no longer watches
 * its `signal` option: the mount ends it with {@link AttachedStream.cancel} when the connection
 * closes or the server shuts down.
 *
 * @param body A `Response` body.
 * @param sink The connection.
 * @returns The handle the mount reports `drain` and `close` to, or `undefined`.
 *
 * @example
 * ```ts
 * import { attachSink, eventStreamResponse, PUSH_SOURCE, type ByteSink } from "./mod.ts";
 * const response = eventStreamResponse({
 *   [PUSH_SOURCE](consumer) {
 *     consumer.push({ data: "hi" });
 *     consumer.end();
 *     return () => {};
 *   },
 * });
 * const written: string[] = [];
 * const sink: ByteSink = { write: (b) => written.push(new TextDecoder().decode(b)) > 0, buffered: 0, end() {}, destroy() {} };
 * if (attachSink(response.body, sink) === undefined) console.log("read response.body instead");
 * console.log(written.join("")); // "data: hi\n\n"
 * ```
 */
export function attachSink(body: ReadableStream<Uint8Array> | null, sink: ByteSink): AttachedStream | undefined {
  if (body === null || body.locked) return undefined;
  return ATTACHABLE.get(body)?.attach(sink);
}

/**
 * An event-stream response a mount may send without its body stream: what
 * {@link directResponse} finds in a response made by `eventStreamResponse` with `direct: true`.
 *
 * @example
 * ```ts
 * import type { ByteSink, DirectResponse } from "./mod.ts";
 * function send(direct: DirectResponse, writeHead: (status: number, headers: readonly string[]) => void, sink: ByteSink) {
 *   writeHead(direct.status, direct.headers);
 *   if (direct.attach(sink) === undefined) sink.end(); // it had already ended
 * }
 * ```
 */
export interface DirectResponse {
  readonly status: number;
  /** `""` for the status code's usual text. */
  readonly statusText: string;
  /** The header fields, flat: `[name, value, name, value, ...]`, names in lower case, `set-cookie` once per cookie. */
  readonly headers: readonly string[];
  /**
   * Writes the stream to `sink` from now on (the retry line at once), as {@link attachSink} does.
   * Send the headers first.
   *
   * @returns The handle to report `drain` and `close` to, or `undefined` if the stream already
   *   ended (end the response).
   */
  attach(sink: ByteSink): AttachedStream | undefined;
  /** The response will not be sent (the client left, a `HEAD` request): frees the source. */
  cancel(): void;
}

/**
 * Internal (core only, not in `mod.ts`): the method key under which a direct response gives its
 * {@link DirectResponse}. A symbol of this module, not `Symbol.for`: a response made by another
 * copy of eddy is sent the generic way rather than read with another copy's assumptions.
 *
 * @example
 * ```ts
 * import { DIRECT_RESPONSE, type DirectResponse } from "./push-source.ts";
 * const viewOf = (response: object) =>
 *   (response as { [DIRECT_RESPONSE]?: () => DirectResponse | undefined })[DIRECT_RESPONSE]?.();
 * console.log(viewOf(new Response("plain"))); // undefined
 * ```
 */
export const DIRECT_RESPONSE: unique symbol = Symbol("eddy.direct-response");

/**
 * The mount's fastest path: if `response` is an event stream made by `eventStreamResponse` with
 * `direct: true` whose body nobody has read (nor anything else that needs the real `Response`),
 * its status, header list and push stream, to write straight to the connection: no
 * `ReadableStream`, no `Response`, no `Headers` iteration. Otherwise `undefined`: send `response`
 * as any other (its body may still be attachable, see {@link attachSink}).
 *
 * A mount that uses this should say so to the handler (the Node mount's `directStreams`), and must
 * then call {@link DirectResponse.cancel} on any such response it does not send.
 *
 * @param response What the handler returned.
 * @returns The direct view, or `undefined`.
 *
 * @example
 * ```ts
 * import { directResponse, eventStreamResponse, PUSH_SOURCE } from "./mod.ts";
 * const response = eventStreamResponse({ [PUSH_SOURCE]: () => () => {} }, { direct: true });
 * const direct = directResponse(response);
 * console.log(direct?.status, direct?.headers[0]); // 200 "cache-control"
 * direct?.cancel();
 * ```
 */
export function directResponse(response: Response): DirectResponse | undefined {
  const view = (response as { [DIRECT_RESPONSE]?: () => DirectResponse | undefined })[DIRECT_RESPONSE];
  return typeof view === "function" ? view.call(response) : undefined;
}
