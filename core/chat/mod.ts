/**
 * eddy chat: a streaming chat server as one runtime-neutral `(Request) => Promise<Response>`
 * handler, built on the SSE core. Rooms, resumable event streams, presence, and a bot that
 * streams its replies. Mount `app.fetch` with one of the runtime adapters or any web-standard
 * server; the protocol is `docs/PROTOCOL.md`.
 *
 * @example
 * ```ts
 * import { createChatApp } from "./mod.ts";
 * const app = createChatApp({ assets: { "/": { body: "<!doctype html><title>chat</title>", type: "text/html; charset=utf-8" } } });
 * const posted = await app.fetch(new Request("http://chat.test/rooms/lobby/messages", {
 *   method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ user: "alice", text: "hi" }),
 * }));
 * console.log(posted.status, await posted.json()); // 201 { id: "…-1" }
 * await app.close();
 * ```
 *
 * @module
 */
import { typewriterResponder, type Responder } from "./bot.ts";
import type { Hub } from "./hub.ts";
import { errorResponse } from "./http.ts";
import { createMemoryHub } from "./memory-hub.ts";
import { createReplyRunner, type ReplyRunner } from "./reply.ts";
import { createRouter } from "./router.ts";
import { type Asset, chatRoutes } from "./routes.ts";

export type { Asset } from "./routes.ts";
export type { ResponderRequest, Responder, RoomStats, TypewriterOptions } from "./bot.ts";
export { isForBot, typewriterResponder } from "./bot.ts";
export type {
  ChatMessage,
  Hub,
  HubStats,
  MessageInput,
  PresenceEvent,
  ReplyDeltaEvent,
  ReplyEvent,
  ReplyStartEvent,
  RoomInfo,
  SubscribeOptions,
  Subscription,
} from "./hub.ts";
export { HubClosedError, RoomLimitError } from "./hub.ts";
export { createMemoryHub, type MemoryHubOptions } from "./memory-hub.ts";
export { OpenAIError, openAIResponder, type OpenAIResponderOptions } from "./openai.ts";
export { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from "./http.ts";

/**
 * Options of {@link createChatApp}. Every field is optional.
 *
 * @example
 * ```ts
 * import type { ChatAppOptions } from "./mod.ts";
 * const options: ChatAppOptions = { historySize: 200, heartbeatMs: 10_000, maxRooms: 1_000 };
 * ```
 */
export type ChatAppOptions = {
  /** Storage and fan-out. Default: an in-memory hub built from the size options below. */
  hub?: Hub;
  /** Messages kept per room (the in-memory hub's ring), also the `?history=` maximum. Default 500. */
  historySize?: number;
  /** Messages replayed to a stream opened without a cursor or `?history=`. Default 50. */
  replayCount?: number;
  /** Heartbeat comment interval on idle streams, in ms. Default 15 000. */
  heartbeatMs?: number;
  /** Events queued per subscriber before it is dropped as too slow (in-memory hub). Default 1024. */
  queueLimit?: number;
  /** Rooms held at once (in-memory hub). Default 10 000. */
  maxRooms?: number;
  /** The bot. Default {@link typewriterResponder}; `null` turns the bot off. */
  responder?: Responder | null;
  /** The longest a bot reply may run, in ms. Default 60 000. */
  replyTimeoutMs?: number;
  /** Bot replies running at once per room. Default 2. */
  maxRepliesPerRoom?: number;
  /** The longest bot reply, in UTF-16 code units (a surrogate pair is never split). Default 4000. */
  maxReplyChars?: number;
  /** Static files by path (`"/"`, `"/chat.js"`, `"/chat.css"`), read by the adapter or build. */
  assets?: Readonly<Record<string, Asset>>;
  /** The clock for message times and uptime. Default `() => new Date()`. */
  now?: () => Date;
  /** Receives unexpected errors (handler bugs, stream sources, responders). Default `console.error`. */
  onError?(error: unknown): void;
};

/**
 * The chat server: mount `fetch`, call `close()` on shutdown.
 *
 * @example
 * ```ts
 * import { createChatApp, type ChatApp } from "./mod.ts";
 * const app: ChatApp = createChatApp();
 * const health = await app.fetch(new Request("http://chat.test/healthz"));
 * await app.close();
 * ```
 */
export type ChatApp = {
  /** Answers one request. Never rejects: an unexpected error becomes a `500` (and goes to `onError`). */
  fetch(request: Request): Promise<Response>;
  /**
   * Graceful shutdown: later requests get `503`, running bot replies stop and store what they
   * produced with a note, then the hub closes, which ends every open stream. The hub is closed
   * even when it was passed in: the app owns the hub it serves.
   */
  close(): Promise<void>;
  /** The hub the app serves (the one passed in, or its in-memory hub). */
  readonly hub: Hub;
};

/**
 * Creates the chat app.
 *
 * @param options Hub, limits, bot, assets, clock and error hook; see {@link ChatAppOptions}.
 * @returns The {@link ChatApp}.
 * @throws {RangeError} If a numeric option is out of range (non-positive size or interval).
 *
 * @example Mounting on a web-standard server
 * ```ts
 * import { createChatApp } from "./mod.ts";
 * const app = createChatApp({ heartbeatMs: 15_000 });
 * const response = await app.fetch(new Request("http://chat.test/rooms?limit=10"));
 * console.log(await response.json()); // { rooms: [], total: 0 }
 * ```
 */
export function createChatApp(options: ChatAppOptions = {}): ChatApp {
  const historySize = positiveInteger("historySize", options.historySize ?? 500);
  const replayCount = Math.min(nonNegativeInteger("replayCount", options.replayCount ?? 50), historySize);
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  if (!(heartbeatMs > 0) || !Number.isFinite(heartbeatMs)) {
    throw new RangeError(`Cannot create chat app: "heartbeatMs" must be a positive number, received ${String(heartbeatMs)}`);
  }
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? ((error: unknown) => console.error("eddy chat:", error));
  const hub =
    options.hub ??
    createMemoryHub({
      historySize,
      replayCount,
      ...(options.queueLimit === undefined ? {} : { queueLimit: options.queueLimit }),
      ...(options.maxRooms === undefined ? {} : { maxRooms: options.maxRooms }),
      onError,
    });
  const responder = options.responder === undefined ? typewriterResponder({ now }) : options.responder;
  const replies: ReplyRunner | undefined =
    responder === null
      ? undefined
      : createReplyRunner({
          hub,
          responder,
          now,
          onError,
          ...(options.replyTimeoutMs === undefined ? {} : { timeoutMs: options.replyTimeoutMs }),
          ...(options.maxRepliesPerRoom === undefined ? {} : { maxPerRoom: options.maxRepliesPerRoom }),
          ...(options.maxReplyChars === undefined ? {} : { maxChars: options.maxReplyChars }),
        });
  const route = createRouter(
    chatRoutes({ hub, replies, assets: options.assets ?? {}, historySize, replayCount, heartbeatMs, startedAt: now().getTime(), now, onError }),
  );
  let closing: Promise<void> | undefined;

  return {
    hub,
    async fetch(request) {
      if (closing !== undefined) return errorResponse(503, "The server is shutting down");
      try {
        return await route(request);
      } catch (error) {
        onError(error);
        return errorResponse(500, "The server failed to answer this request");
      }
    },
    close() {
      closing ??= (async () => {
        // Replies first, so their final messages reach the streams before the hub ends them.
        await replies?.close();
        await hub.close();
      })();
      return closing;
    },
  };
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot create chat app: "${name}" must be a positive integer, received ${String(value)}`);
  }
  return value;
}

function nonNegativeInteger(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot create chat app: "${name}" must be a non-negative integer, received ${String(value)}`);
  }
  return value;
}
