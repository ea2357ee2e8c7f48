/**
 * The chat's HTTP handlers (`docs/PROTOCOL.md`, "Routes"): the page's assets, the room list,
 * health, a room's event stream and posting a message. They use only the hub interface and the
 * SSE core, so any {@link Hub} and any web-standard server can run them.
 *
 * @module
 */
import {
  errorResponse,
  type EventStreamOptions,
  type EventStreamResponseInit,
  eventStreamResponse,
  jsonResponse,
  SECURITY_HEADERS,
} from "../mod.ts";
import { isForBot } from "./bot.ts";
import {
  type Hub,
  HubClosedError,
  HubUnavailableError,
  InvalidCursorError,
  KeyReusedError,
  type Person,
  type RoomInfo,
  RoomLimitError,
  type SubscribeOptions,
} from "./hub.ts";
import type { ChatMetrics } from "./_metrics.ts";
import type { Limiter, NewRoomLimiter } from "./_rate-limit.ts";
import { preferredLanguage } from "./_bot-language.ts";
import type { ReplyRunner } from "./_reply.ts";
import { type Sessions, sessionToken } from "./_session.ts";
import { allows, requestToken, type Tokens } from "./_tokens.ts";
import { type MountInfo, queryParam, type Route } from "./_router.ts";
import {
  integerParam,
  readJsonBody,
  validateIdempotencyKey,
  validateMessageBody,
  validateRoom,
  validateTypingBody,
  validateUser,
} from "./_validate.ts";

/**
 * One static file served by the app, such as the page or its script.
 *
 * @example
 * ```ts
 * import type { Asset } from "./_routes.ts";
 * const page: Asset = { body: "<!doctype html><title>chat</title>", type: "text/html; charset=utf-8" };
 * ```
 */
export type Asset = { readonly body: string | Uint8Array; readonly type: string };

/**
 * Everything the handlers need, resolved from the app's options.
 *
 * @example
 * ```ts
 * import type { RouteContext } from "./_routes.ts";
 * const describe = (context: RouteContext) => `${context.historySize} messages kept per room`;
 * ```
 */
export type RouteContext = {
  readonly hub: Hub;
  /** `undefined` when the bot is turned off. */
  readonly replies: ReplyRunner | undefined;
  readonly assets: Readonly<Record<string, Asset>>;
  readonly historySize: number;
  readonly replayCount: number;
  /** Heartbeat, slow-reader bounds and the metrics observer of every room stream. */
  readonly stream: Pick<
    EventStreamOptions,
    "heartbeat" | "maxBufferedBytes" | "maxBufferedEvents" | "writeTimeout" | "observer"
  >;
  readonly metrics: ChatMetrics;
  /** Per-client buckets; `undefined` when rate limiting is off. */
  readonly limits: { readonly posts: Limiter; readonly streams: Limiter; readonly rooms: NewRoomLimiter } | undefined;
  /** The key a request's client is limited under (its address, or what a trusted proxy says). */
  readonly clientOf: (request: Request) => string;
  /** Signs and checks the session cookie that carries each client's user id. */
  readonly sessions: Sessions;
  /** Whether a request reached the server over TLS (the session cookie is then `Secure`). */
  readonly secure: (request: Request) => boolean;
  /** Private rooms: those matching `pattern` need a token allowing them; `undefined`: none. */
  readonly access?: { readonly pattern: RegExp; readonly tokens: Tokens };
  readonly startedAt: number;
  readonly now: () => Date;
  readonly onError: (error: unknown) => void;
};

/** The client's reconnection delay sent first on every stream (PROTOCOL.md). */
const RETRY_MS = 2000;
const ROOMS_DEFAULT = 100;
const ROOMS_MAX = 1000;
/** `GET /rooms/:room/messages`' page size: default and most (PROTOCOL.md). */
const PAGE_DEFAULT = 50;
const PAGE_MAX = 200;

/**
 * The routes of the chat app, for `createRouter`.
 *
 * @param context The hub, the reply runner, assets, limits and hooks.
 * @returns The route list: each asset path, `/rooms`, `/healthz`, `/metrics`, `/rooms/:room/events`,
 *   `/rooms/:room/messages` (POST to post, GET to page back), `/rooms/:room/typing`.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * import { ChatMetrics } from "./_metrics.ts";
 * import { createRouter } from "./_router.ts";
 * import { chatRoutes } from "./_routes.ts";
 * import { Sessions } from "./_session.ts";
 * const route = createRouter(chatRoutes({
 *   hub: createMemoryHub(), replies: undefined, assets: {}, historySize: 500, replayCount: 50,
 *   stream: { heartbeat: 15_000 }, metrics: new ChatMetrics(), limits: undefined, clientOf: () => "local",
 *   sessions: new Sessions(undefined), secure: () => false, startedAt: Date.now(), now: () => new Date(),
 *   onError: console.error,
 * }));
 * const response = await route(new Request("http://chat.test/healthz"));
 * ```
 */
export function chatRoutes(context: RouteContext): Route[] {
  const assets = Object.entries(context.assets).map(
    ([path, asset]): Route => ({ method: "GET", path, handler: assetHandler(asset) }),
  );
  const streams = new RoomStreams(context);
  return [
    ...assets,
    { method: "GET", path: "/rooms", handler: (_request, _params, query) => listRooms(context, query) },
    { method: "GET", path: "/healthz", handler: () => health(context) },
    { method: "GET", path: "/session", handler: (request) => session(context, request) },
    { method: "GET", path: "/metrics", handler: () => metrics(context) },
    {
      method: "GET",
      path: "/rooms/:room/events",
      handler: (request, params, query, info) => streams.open(request, params.room ?? "", query, info),
    },
    {
      method: "POST",
      path: "/rooms/:room/messages",
      handler: (request, params) => postMessage(context, request, params.room ?? ""),
    },
    {
      method: "GET",
      path: "/rooms/:room/messages",
      handler: (request, params, query) => pageMessages(context, request, params.room ?? "", query),
    },
    {
      method: "POST",
      path: "/rooms/:room/typing",
      handler: (request, params) => postTyping(context, request, params.room ?? ""),
    },
  ];
}

function assetHandler(asset: Asset): () => Response {
  // Encoded once at startup, not per request.
  const bytes = typeof asset.body === "string" ? new TextEncoder().encode(asset.body) : Uint8Array.from(asset.body);
  const headers = {
    ...SECURITY_HEADERS,
    "content-type": asset.type,
    "content-length": String(bytes.byteLength),
    // Revalidate every time: the page and its script must change together after a deploy.
    "cache-control": "no-cache",
  };
  return () => new Response(bytes, { status: 200, headers });
}

async function listRooms(context: RouteContext, query: string): Promise<Response> {
  const limit = integerParam(queryParam(query, "limit"), {
    name: "limit",
    min: 1,
    max: ROOMS_MAX,
    fallback: ROOMS_DEFAULT,
  });
  if (!limit.ok) return errorResponse(limit.problem.status, limit.problem.error);
  const rooms = await context.hub.rooms();
  rooms.sort(bySubscribersThenName);
  return jsonResponse(200, { rooms: rooms.slice(0, limit.value), total: rooms.length });
}

function bySubscribersThenName(a: RoomInfo, b: RoomInfo): number {
  // Code units, not a locale's collation: the same order on every runtime (names are NFC already).
  return b.subscribers - a.subscribers || (a.room < b.room ? -1 : a.room > b.room ? 1 : 0);
}

async function metrics(context: RouteContext): Promise<Response> {
  const body = context.metrics.render(await context.hub.stats());
  return new Response(body, {
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "text/plain; version=0.0.4; charset=utf-8",
      "cache-control": "no-store",
    },
  });
}

async function health(context: RouteContext): Promise<Response> {
  const stats = await context.hub.stats();
  const uptime = Math.max(0, Math.floor((context.now().getTime() - context.startedAt) / 1000));
  const { rooms, subscribers } = stats;
  const retained = stats.retainedBytes === undefined ? {} : { retainedBytes: stats.retainedBytes };
  if (stats.unavailable !== undefined) {
    return jsonResponse(503, {
      status: "unavailable",
      error: stats.unavailable,
      rooms,
      subscribers,
      ...retained,
      uptime,
    });
  }
  return jsonResponse(200, { status: "ok", rooms, subscribers, ...retained, uptime });
}

/**
 * `GET /rooms/:room/events`: a room's event stream. A subscriber's request is the one a crowd
 * sends at once, so it is answered with as little garbage as the mount allows: on a mount that
 * takes push streams itself (`info.directStreams`, Node's) the stream options are one frozen
 * object made here once, `request.signal` is never read (the mount ends the stream, and frees the
 * subscription, when the client leaves), and the response builds no body stream.
 */
class RoomStreams {
  readonly #context: RouteContext;
  /** The stream options of every subscriber on a direct mount. */
  readonly #direct: EventStreamResponseInit;

  constructor(context: RouteContext) {
    this.#context = context;
    this.#direct = Object.freeze({ ...this.#options(), direct: true });
  }

  #options(): EventStreamResponseInit {
    const { stream, onError } = this.#context;
    return { ...stream, retry: RETRY_MS, headers: SECURITY_HEADERS, onError };
  }

  /**
   * Checks the request and subscribes. Not async itself: what can be answered at once is, and
   * only the wait for the hub (and for a private room's token or the rate limits, when on) is
   * an async function, a small one.
   */
  open(request: Request, segment: string, query: string, info: MountInfo): Response | Promise<Response> {
    const context = this.#context;
    const room = validateRoom(segment);
    if (!room.ok) return errorResponse(room.problem.status, room.problem.error);
    const replay = integerParam(queryParam(query, "history"), {
      name: "history",
      min: 0,
      max: context.historySize,
      fallback: context.replayCount,
    });
    if (!replay.ok) return errorResponse(replay.problem.status, replay.problem.error);
    const signal = info.directStreams === true ? undefined : request.signal;
    const init = signal === undefined ? this.#direct : { ...this.#options(), signal };
    // HEAD gets the stream's headers without joining the room (no presence, no subscriber).
    if (request.method === "HEAD") return eventStreamResponse([], init);
    // A name to be listed under needs the session checked: only then is the cookie read.
    const name = queryParam(query, "user");
    if (context.access !== undefined || context.limits !== undefined || name !== null) {
      return this.#guarded(request, room.value, replay.value, query, init, signal, name);
    }
    return this.#subscribe(room.value, replay.value, cursorOf(request, query), init, signal, undefined, undefined);
  }

  /** A private room's token, then the client's stream (and new room) buckets, then {@link #subscribe}. */
  async #guarded(
    request: Request,
    room: string,
    replay: number,
    query: string,
    init: EventStreamResponseInit,
    signal: AbortSignal | undefined,
    name: string | null,
  ): Promise<Response> {
    const context = this.#context;
    const access = context.access === undefined ? undefined : await authorize(context, request, room, "subscribe");
    if (access instanceof Response) return access;
    const limited = await limit(context, request, room, "streams");
    if (limited !== undefined) return limited;
    const who = name === null ? undefined : await personOf(context, request, name);
    return this.#subscribe(room, replay, cursorOf(request, query), init, signal, access, who);
  }

  /**
   * Joins the room; `expires`: when the token that opened the stream expires (ms), if any; `who`:
   * the person to list in the room's presence, if the stream gave a valid name and session.
   */
  async #subscribe(
    room: string,
    replay: number,
    cursor: string | undefined,
    init: EventStreamResponseInit,
    signal: AbortSignal | undefined,
    expires: number | undefined,
    who: Person | undefined,
  ): Promise<Response> {
    const context = this.#context;
    try {
      const options: SubscribeOptions = { replay };
      if (signal !== undefined) options.signal = signal;
      if (cursor !== undefined) options.after = cursor;
      if (who !== undefined) options.who = who;
      const subscription = await context.hub.subscribe(room, options);
      context.metrics.replayedEvents(subscription.replayed ?? 0);
      // A stream lives no longer than the token that opened it.
      if (expires !== undefined && Number.isFinite(expires)) {
        const timer = setTimeout(() => void subscription.return(), Math.max(0, expires - Date.now()));
        (timer as { unref?: () => void }).unref?.();
      }
      return eventStreamResponse(subscription, init);
    } catch (error) {
      return unavailable(error);
    }
  }
}

/** Where a stream resumes: EventSource sends Last-Event-ID on reconnect; a fresh page can pass ?lastEventId= itself. */
function cursorOf(request: Request, query: string): string | undefined {
  const header = request.headers.get("last-event-id");
  return header !== null && header !== "" ? header : queryParam(query, "lastEventId") || undefined;
}

async function postMessage(context: RouteContext, request: Request, segment: string): Promise<Response> {
  const room = validateRoom(segment);
  if (!room.ok) return unread(request, errorResponse(room.problem.status, room.problem.error));
  const access = await authorize(context, request, room.value, "publish");
  if (access instanceof Response) return unread(request, access);
  const limited = await limit(context, request, room.value, "posts");
  if (limited !== undefined) return unread(request, limited);
  const parsed = await readJsonBody(request);
  // A refused body (too large, not JSON) is not read to its end: the connection goes with it.
  if (!parsed.ok) return errorResponse(parsed.problem.status, parsed.problem.error, CLOSE);
  const body = validateMessageBody(parsed.value);
  if (!body.ok) return errorResponse(body.problem.status, body.problem.error);
  const key = validateIdempotencyKey(request.headers.get("idempotency-key"));
  if (!key.ok) return errorResponse(key.problem.status, key.problem.error);
  try {
    const started = performance.now();
    const author = await authorOf(context, request);
    const input = {
      user: body.value.user,
      userId: author.userId,
      text: body.value.text,
      time: context.now().toISOString(),
    };
    // A retry of a post whose answer was lost (same author, same key) gets the first answer again.
    const { message, replayed } =
      key.value === undefined || context.hub.publishOnce === undefined
        ? { message: await context.hub.publish(room.value, input), replayed: false }
        : await context.hub.publishOnce(room.value, input, `${author.userId}:${key.value}`);
    if (!replayed) {
      context.metrics.publishTook(performance.now() - started);
      if (context.replies !== undefined && isForBot(message.text)) {
        context.replies.start(message, preferredLanguage(request.headers.get("accept-language")));
      }
    }
    // A client without a session (curl, a first post) gets one with its answer; it is signed only
    // now, so the message never waits for the signature.
    const headers: Record<string, string> = replayed ? { "idempotent-replayed": "true" } : {};
    if (!author.known) headers["set-cookie"] = await context.sessions.cookie(author.userId, context.secure(request));
    return jsonResponse(201, { id: message.id, userId: author.userId }, headers);
  } catch (error) {
    if (error instanceof KeyReusedError) {
      return errorResponse(422, "This Idempotency-Key was already used for another message");
    }
    return unavailable(error);
  }
}

/**
 * A stream's `?user=` as a person to list: the name checked as a post's, the user id from a valid
 * session cookie. Either missing or invalid: not listed (the stream is still served: the name is
 * only a label, and a stale one must not cost the client its room).
 */
async function personOf(context: RouteContext, request: Request, name: string): Promise<Person | undefined> {
  const user = validateUser(name);
  if (!user.ok) return undefined;
  const token = sessionToken(request.headers.get("cookie"));
  const userId = token === undefined ? undefined : await context.sessions.verify(token);
  return userId === undefined ? undefined : { userId, user: user.value };
}

/**
 * `GET /rooms/:room/messages?before=<id>&limit=<n>`: a page of the retained history, for scrolling
 * back. Read from the hub (memory or Redis alike); a private room's needs a token that lets the
 * client subscribe, since its history is what a subscriber would be shown.
 */
async function pageMessages(
  context: RouteContext,
  request: Request,
  segment: string,
  query: string,
): Promise<Response> {
  const room = validateRoom(segment);
  if (!room.ok) return errorResponse(room.problem.status, room.problem.error);
  const limit = integerParam(queryParam(query, "limit"), {
    name: "limit",
    min: 1,
    max: PAGE_MAX,
    fallback: PAGE_DEFAULT,
  });
  if (!limit.ok) return errorResponse(limit.problem.status, limit.problem.error);
  // An empty `before` counts as absent, as an empty Last-Event-ID does: `?before=${oldestId ?? ""}` works.
  const before = queryParam(query, "before") || undefined;
  const access = await authorize(context, request, room.value, "subscribe");
  if (access instanceof Response) return access;
  try {
    const page = await context.hub.page(room.value, {
      limit: limit.value,
      ...(before === undefined ? {} : { before }),
    });
    const { messages, hasMore, complete, oldestId } = page;
    return jsonResponse(200, { messages, hasMore, complete, oldestId });
  } catch (error) {
    if (error instanceof InvalidCursorError) {
      return errorResponse(400, 'The "before" parameter must be a message id');
    }
    return unavailable(error);
  }
}

/**
 * `POST /rooms/:room/typing` `{"user"}`: tells the room's subscribers someone is typing. `204`
 * whether or not the hub sent an event (at most one per person per 2 s; the rest are absorbed).
 * The person is the session's, as for a post (a client without one gets one); the post bucket
 * limits it, so typing cannot be used to flood where posting could not.
 */
async function postTyping(context: RouteContext, request: Request, segment: string): Promise<Response> {
  const room = validateRoom(segment);
  if (!room.ok) return unread(request, errorResponse(room.problem.status, room.problem.error));
  const access = await authorize(context, request, room.value, "publish");
  if (access instanceof Response) return unread(request, access);
  if (context.limits !== undefined) {
    // Not the new-room bucket: typing creates no room.
    const wait = await context.limits.posts.take(context.clientOf(request));
    if (wait > 0) {
      return unread(
        request,
        errorResponse(429, `${TOO_MANY.posts}; try again in ${wait} s`, { "retry-after": String(wait) }),
      );
    }
  }
  const parsed = await readJsonBody(request);
  if (!parsed.ok) return errorResponse(parsed.problem.status, parsed.problem.error, CLOSE);
  const user = validateTypingBody(parsed.value);
  if (!user.ok) return errorResponse(user.problem.status, user.problem.error);
  try {
    const author = await authorOf(context, request);
    await context.hub.typing(room.value, { userId: author.userId, user: user.value });
    const headers = new Headers(SECURITY_HEADERS);
    headers.set("cache-control", "no-store");
    if (!author.known) headers.set("set-cookie", await context.sessions.cookie(author.userId, context.secure(request)));
    return new Response(null, { status: 204, headers });
  } catch (error) {
    return unavailable(error);
  }
}

/** `GET /session`: the client's user id (a new session if it has none), for the page to know its own messages. */
async function session(context: RouteContext, request: Request): Promise<Response> {
  const author = await authorOf(context, request);
  const setCookie = author.known
    ? undefined
    : { "set-cookie": await context.sessions.cookie(author.userId, context.secure(request)) };
  return jsonResponse(200, { userId: author.userId }, setCookie);
}

/** The user id of the request's valid session cookie (`known`), or a new one to give it. */
async function authorOf(context: RouteContext, request: Request): Promise<{ userId: string; known: boolean }> {
  const token = sessionToken(request.headers.get("cookie"));
  const userId = token === undefined ? undefined : await context.sessions.verify(token);
  return userId === undefined ? { userId: context.sessions.newId(), known: false } : { userId, known: true };
}

/**
 * For a private room: the `401` (no valid token) or `403` (the token does not list the room)
 * answer, else when the token expires (ms). `undefined` for a public room.
 */
async function authorize(
  context: RouteContext,
  request: Request,
  room: string,
  action: "subscribe" | "publish",
): Promise<Response | number | undefined> {
  if (context.access === undefined || !context.access.pattern.test(room)) return undefined;
  const token = requestToken(request);
  const grant = token === undefined ? undefined : await context.access.tokens.verify(token);
  if (grant === undefined) {
    return errorResponse(401, "This room is private: send a valid, unexpired token", {
      "www-authenticate": 'Bearer realm="eddy"',
    });
  }
  if (!allows(grant[action], room)) return errorResponse(403, `The token does not allow you to ${action} in this room`);
  return grant.expires;
}

/** Sent with an answer given before the request's body was read: the rest of it is not wanted. */
const CLOSE = { connection: "close" } as const;

/** Cancels the unread body and answers `response`, closing the connection after it. */
function unread(request: Request, response: Response): Response {
  request.body?.cancel().catch(() => {});
  response.headers.set("connection", "close");
  return response;
}

const TOO_MANY = {
  posts: "Too many messages from this client",
  streams: "Too many event streams opened by this client",
  rooms: "Too many new rooms created by this client",
} as const;

/**
 * Takes a token from the client's `kind` bucket, and from its room bucket if `room` does not
 * exist yet; the `429` answer (with `Retry-After`) when one is empty, else `undefined`.
 */
async function limit(
  context: RouteContext,
  request: Request,
  room: string,
  kind: "posts" | "streams",
): Promise<Response | undefined> {
  if (context.limits === undefined) return undefined;
  const client = context.clientOf(request);
  let wait = await context.limits[kind].take(client);
  let which: keyof typeof TOO_MANY = kind;
  if (wait === 0 && (await context.hub.room(room)) === undefined) {
    wait = await context.limits.rooms.take(client, room);
    which = "rooms";
  }
  if (wait === 0) return undefined;
  return errorResponse(429, `${TOO_MANY[which]}; try again in ${wait} s`, { "retry-after": String(wait) });
}

// The hub's expected refusals become 503; anything else is a bug and propagates (500).
function unavailable(error: unknown): Response {
  if (error instanceof RoomLimitError) return errorResponse(503, "The server is at its room limit; try again later");
  if (error instanceof HubClosedError) return errorResponse(503, "The server is shutting down");
  if (error instanceof HubUnavailableError) {
    return errorResponse(503, `${error.message}; try again later`, { "retry-after": "2" });
  }
  throw error;
}
