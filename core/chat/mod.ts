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
import { errorResponse, serverErrorResponse } from "../mod.ts";
import { createMemoryHub } from "./memory-hub.ts";
import { ChatMetrics } from "./_metrics.ts";
import { createReplyRunner, type ReplyRunner } from "./_reply.ts";
import { type ChatNumericOptions, type ChatOptionName, readOption } from "./options.ts";
import { Cors, checkOrigin } from "./_cors.ts";
import { clientKey, limiterFor, NewRoomLimiter } from "./_rate-limit.ts";
import { createRouter } from "./_router.ts";
import { Sessions } from "./_session.ts";
import { Tokens } from "./_tokens.ts";
import { type Asset, chatRoutes } from "./_routes.ts";

export type { Asset } from "./_routes.ts";
export type { ResponderRequest, Responder, RoomStats, TypewriterOptions } from "./bot.ts";
export { isForBot, typewriterResponder } from "./bot.ts";
export type {
  ChatMessage,
  HistoryPage,
  Hub,
  HubStats,
  MessageInput,
  PageOptions,
  Person,
  PresenceEvent,
  PresenceUser,
  PublishedOnce,
  ReplyDeltaEvent,
  ReplyEvent,
  ReplyStartEvent,
  RoomInfo,
  SubscribeOptions,
  Subscription,
  TypingEvent,
} from "./hub.ts";
export {
  HubClosedError,
  HubUnavailableError,
  InvalidCursorError,
  KeyReusedError,
  MAX_PRESENCE_USERS,
  RoomLimitError,
} from "./hub.ts";
export { createMemoryHub, type MemoryHubOptions } from "./memory-hub.ts";
export { createRedisHub, type RedisHubOptions } from "./redis-hub.ts";
export type { RedisConnection } from "./redis-connection.ts";
export { CHAT_EVENTS, encodeRoomEvent, type PresencePayload, type ResetEvent, type RoomEvent } from "./wire.ts";
export { CHAT_OPTIONS, type ChatNumericOptions, type ChatOptionName, type NumericOption } from "./options.ts";
export { OpenAIError, openAIResponder, type OpenAIResponderOptions } from "./openai.ts";
// Kept here too: the chat page is what this policy was written for.
export { CONTENT_SECURITY_POLICY, SECURITY_HEADERS } from "../mod.ts";

/**
 * Options of {@link createChatApp}. Every field is optional; the numeric ones (sizes, limits,
 * intervals) and their defaults are listed once, in {@link CHAT_OPTIONS}.
 *
 * @example
 * ```ts
 * import type { ChatAppOptions } from "./mod.ts";
 * const options: ChatAppOptions = { historySize: 200, heartbeatMs: 10_000, maxRooms: 1_000 };
 * ```
 */
export type ChatAppOptions = ChatNumericOptions & {
  /** Storage and fan-out. Default: an in-memory hub built from the size options. */
  hub?: Hub;
  /** The bot. Default {@link typewriterResponder} (paced by `typewriterMs`); `null` turns the bot off. */
  responder?: Responder | null;
  /** Static files by path (`"/"`, `"/chat.js"`, `"/chat.css"`), read by the program or a build. */
  assets?: Readonly<Record<string, Asset>>;
  /** The clock for message times and uptime. Default `() => new Date()`. */
  now?: () => Date;
  /** Receives unexpected errors (handler bugs, stream sources, responders). Default `console.error`. */
  onError?(error: unknown): void;
  /**
   * Per-client rate limits on posts, new event streams and new rooms (`429` with `Retry-After`),
   * sized by `postBurst`/`postRate`, `streamBurst`/`streamRate`, `roomBurst`/`roomRate`. Default
   * `true`; `false` turns them off (a benchmark publishing from one client).
   */
  rateLimit?: boolean;
  /**
   * The secret that signs session cookies (HMAC-SHA256). Set the same one on every instance of a
   * chat (Redis), and keep it across restarts, or users get new ids. Default: a random one per
   * process.
   */
  sessionSecret?: string;
  /**
   * Origins (`https://app.example`) whose pages may use the API and streams cross-origin (CORS,
   * with preflight answers). Default none: same origin only.
   */
  corsOrigins?: readonly string[];
  /**
   * Private rooms: rooms whose name matches `pattern` need a JWT (HS256 with `secret`, ES256 with
   * `publicKey`) whose claim `eddy` lists them under `subscribe` / `publish`, sent as
   * `Authorization: Bearer` or the `eddy_token` cookie; `401` / `403` otherwise, and a stream ends
   * when its token expires. Default: every room is public.
   */
  privateRooms?: { pattern: RegExp; secret?: string; publicKey?: JsonWebKey };
};

/**
 * What the server knows of the connection a request came on, beyond the request itself: the mounts
 * pass it as `fetch`'s second argument.
 *
 * @example
 * ```ts
 * import type { ClientInfo } from "./mod.ts";
 * const info: ClientInfo = { remoteAddress: "203.0.113.7" };
 * ```
 */
export type ClientInfo = {
  /** The peer's IP address; absent when unknown (all such requests share one rate-limit bucket). */
  readonly remoteAddress?: string;
  /**
   * The mount writes event streams over push sources to the connection itself and ends them when
   * the client leaves (the Node mount's `ConnectionInfo.directStreams`): room streams are then
   * answered without a body stream and without reading `request.signal`.
   */
  readonly directStreams?: boolean;
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
  /**
   * Answers one request. Never rejects: an unexpected error becomes a `500` (and goes to
   * `onError`). `info` names the client (the mounts pass it), for the rate limits.
   */
  fetch(request: Request, info?: ClientInfo): Promise<Response>;
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
 * @throws {RangeError} If a numeric option is not of its kind (see {@link CHAT_OPTIONS}).
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
  const action = "Cannot create chat app";
  const historySize = readOption(options, "historySize", action);
  const replayCount = Math.min(readOption(options, "replayCount", action), historySize);
  const heartbeatMs = readOption(options, "heartbeatMs", action);
  const metrics = new ChatMetrics();
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? ((error: unknown) => console.error("eddy chat:", error));
  const hub = options.hub ?? createMemoryHub({ ...pick(options, HUB_OPTIONS), onError });
  const responder =
    options.responder === undefined
      ? typewriterResponder({ now, delayMs: readOption(options, "typewriterMs", action) })
      : options.responder;
  const replies: ReplyRunner | undefined =
    responder === null
      ? undefined
      : createReplyRunner({ ...pick(options, REPLY_OPTIONS), hub, responder, now, onError });
  const clients = new WeakMap<Request, string>();
  const trustProxy = readOption(options, "trustProxy", action);
  const limits =
    options.rateLimit === false
      ? undefined
      : {
          // Shared by every instance when the hub keeps buckets (Redis), else this instance's own.
          posts: limiterFor(
            hub,
            "posts",
            readOption(options, "postBurst", action),
            readOption(options, "postRate", action),
          ),
          streams: limiterFor(
            hub,
            "streams",
            readOption(options, "streamBurst", action),
            readOption(options, "streamRate", action),
          ),
          rooms: new NewRoomLimiter(
            limiterFor(hub, "rooms", readOption(options, "roomBurst", action), readOption(options, "roomRate", action)),
          ),
        };
  const route = createRouter(
    chatRoutes({
      hub,
      replies,
      limits,
      clientOf: (request) => clients.get(request) ?? clientKey(undefined, null, 0),
      sessions: new Sessions(options.sessionSecret),
      ...(options.privateRooms === undefined ? {} : { access: privateAccess(options.privateRooms) }),
      // TLS here, or (behind trusted proxies) at the proxy the client reached.
      secure: (request) =>
        request.url.startsWith("https:") ||
        (trustProxy > 0 && request.headers.get("x-forwarded-proto")?.split(",")[0]?.trim() === "https"),
      assets: options.assets ?? {},
      historySize,
      replayCount,
      stream: {
        heartbeat: heartbeatMs,
        maxBufferedEvents: readOption(options, "queueLimit", action),
        maxBufferedBytes: readOption(options, "queueBytes", action),
        writeTimeout: readOption(options, "writeTimeoutMs", action),
        observer: metrics.observer,
      },
      metrics,
      startedAt: now().getTime(),
      now,
      onError,
    }),
  );
  const cors = options.corsOrigins === undefined ? undefined : new Cors(options.corsOrigins.map(checkOrigin));
  let closing: Promise<void> | undefined;
  // An unexpected error becomes a 500 (and goes to `onError`): fetch never rejects.
  const failed = (error: unknown): Response => {
    onError(error);
    return serverErrorResponse();
  };
  const withCors = async (cors: Cors, request: Request, info: ClientInfo | undefined): Promise<Response> => {
    try {
      return cors.preflight(request) ?? cors.decorate(request, await route(request, info));
    } catch (error) {
      return failed(error);
    }
  };

  return {
    hub,
    // Not async: the route's own promise is passed on (a failure caught on it), one layer of
    // promises fewer for every request, a crowd of subscribers connecting at once included.
    fetch(request, info) {
      try {
        if (closing !== undefined) return Promise.resolve(errorResponse(503, "The server is shutting down"));
        if (limits !== undefined) {
          const forwarded = trustProxy > 0 ? request.headers.get("x-forwarded-for") : null;
          clients.set(request, clientKey(info?.remoteAddress, forwarded, trustProxy));
        }
        if (cors !== undefined) return withCors(cors, request, info);
        const answer = route(request, info);
        return answer instanceof Response ? Promise.resolve(answer) : answer.then(undefined, failed);
      } catch (error) {
        return Promise.resolve(failed(error));
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

function privateAccess(rooms: NonNullable<ChatAppOptions["privateRooms"]>): { pattern: RegExp; tokens: Tokens } {
  if (rooms.secret === undefined && rooms.publicKey === undefined) {
    throw new RangeError('Cannot create chat app: "privateRooms" needs a "secret" (HS256) or a "publicKey" (ES256)');
  }
  if (rooms.secret !== undefined && rooms.secret.length < 32) {
    throw new RangeError('Cannot create chat app: "privateRooms.secret" must be at least 32 characters');
  }
  const keys = {
    ...(rooms.secret === undefined ? {} : { hs256: rooms.secret }),
    ...(rooms.publicKey === undefined ? {} : { es256: rooms.publicKey }),
  };
  return { pattern: rooms.pattern, tokens: new Tokens(keys) };
}

/** The numeric options the in-memory hub and the reply runner read themselves (and check). */
const HUB_OPTIONS = [
  "historySize",
  "historyBytes",
  "replayCount",
  "queueLimit",
  "maxRooms",
  "presenceIntervalMs",
] as const;
const REPLY_OPTIONS = [
  "replyTimeoutMs",
  "maxRepliesPerRoom",
  "maxReplies",
  "maxReplyChars",
  "replyContextSize",
  "replyDeltaMs",
] as const;

/** The options named in `names` that are set (so `exactOptionalPropertyTypes` holds). */
function pick<Name extends ChatOptionName>(
  options: ChatNumericOptions,
  names: readonly Name[],
): Pick<ChatNumericOptions, Name> {
  const picked: ChatNumericOptions = {};
  for (const name of names) {
    const value = options[name];
    if (value !== undefined) picked[name] = value;
  }
  return picked as Pick<ChatNumericOptions, Name>;
}
