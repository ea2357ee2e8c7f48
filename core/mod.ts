/**
 * eddy core: spec-exact Server-Sent Events on web streams, for every runtime with
 * `ReadableStream`, `TextEncoder`/`TextDecoder` and `Response` (Node, Bun, Deno, browsers,
 * workers). No runtime dependency and no runtime-specific API.
 *
 * @example Round trip
 * ```ts
 * import { parseEventStream, toEventStream } from "./mod.ts";
 * const bytes = toEventStream([{ event: "greeting", id: "1", data: "hello\nworld" }]);
 * for await (const event of parseEventStream(bytes)) {
 *   console.log(event); // { type: "greeting", data: "hello\nworld", lastEventId: "1" }
 * }
 * ```
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html
 * @module
 */
export type {
  BackoffOptions,
  ConnectBody,
  ConnectOptions,
  EventMessage,
  EventStreamOptions,
  MessageSource,
  ParserCallbacks,
  ParserOptions,
  RetryInfo,
  ServerSentEvent,
  StreamObserver,
} from "./types.ts";
export { encodeComment, encodeData, encodeEvent } from "./encode.ts";
export { EncodedEvent, type EncodedEventOptions } from "./encoded-event.ts";
export { EventStreamEncoder } from "./event-stream-encoder.ts";
export { toEventStream } from "./to-event-stream.ts";
export {
  type AttachedStream,
  attachSink,
  type ByteSink,
  type DirectResponse,
  directResponse,
  PUSH_SOURCE,
  type PushConsumer,
  type PushSource,
} from "./push-source.ts";
export { eventStreamResponse, type EventStreamResponseInit } from "./event-stream-response.ts";
export { createParser, DEFAULT_MAX_EVENT_SIZE, type EventStreamPushParser, type Parser } from "./create-parser.ts";
export { EventStreamParser } from "./event-stream-parser.ts";
export { parseEventStream } from "./parse-event-stream.ts";
export { ConnectError, connect, type EventStreamConnection } from "./connect.ts";
export { EventStreamSizeError } from "./errors.ts";
export {
  defineEvents,
  type EncodeFields,
  type EventCodec,
  type EventSchema,
  type EventTypes,
  json,
  type PayloadOf,
  type TypedEvent,
} from "./event-types.ts";
export {
  CONTENT_SECURITY_POLICY,
  errorResponse,
  jsonResponse,
  SECURITY_HEADERS,
  serverErrorResponse,
} from "./json-response.ts";
