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
  type RoomInfo,
  RoomLimitError,
  type SubscribeOptions,
} from "./hub.ts";
import type { ChatMetrics } from "./_metrics.ts";
import type { RateLimiter } from "./_rate-limit.ts";
import type { ReplyRunner } from "./_reply.ts";
import { type Sessions, sessionToken } from "./_session.ts";
import { allows, requestToken, type Tokens } from "./_tokens.ts";
import { type MountInfo, queryParam, type Route } from "./_router.ts";
import { integerParam, readJsonBody, validateMessageBody, validateRoom } from "./_validate.ts";

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
  readonly limits:
    | { readonly posts: RateLimiter; readonly streams: RateLimiter; readonly rooms: RateLimiter }
    | undefined;
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

/**
 * The routes of the chat app, for `createRouter`.
 *
 * @param context The hub, the reply runner, assets, limits and hooks.
 * @returns The route list: each asset path, `/rooms`, `/healthz`, `/metrics`, `/rooms/:room/events`,
 *   `/rooms/:room/messages`.
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
  // Room names are ASCII: a code-unit comparison is exact and locale-independent.
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
    if (context.access !== undefined || context.limits !== undefined) {
      return this.#guarded(request, room.value, replay.value, query, init, signal);
    }
    return this.#subscribe(room.value, replay.value, cursorOf(request, query), init, signal, undefined);
  }

  /** A private room's token, then the client's stream (and new room) buckets, then {@link #subscribe}. */
  async #guarded(
    request: Request,
    room: string,
    replay: number,
    query: string,
    init: EventStreamResponseInit,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const context = this.#context;
    const access = context.access === undefined ? undefined : await authorize(context, request, room, "subscribe");
    if (access instanceof Response) return access;
    const limited = await limit(context, request, room, "streams");
    if (limited !== undefined) return limited;
    return this.#subscribe(room, replay, cursorOf(request, query), init, signal, access);
  }

  /** Joins the room; `expires`: when the token that opened the stream expires (ms), if any. */
  async #subscribe(
    room: string,
    replay: number,
    cursor: string | undefined,
    init: EventStreamResponseInit,
    signal: AbortSignal | undefined,
    expires: number | undefined,
  ): Promise<Response> {
    const context = this.#context;
    try {
      const options: SubscribeOptions = { replay };
      if (signal !== undefined) options.signal = signal;
      if (cursor !== undefined) options.after = cursor;
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
  try {
    const started = performance.now();
    const author = await authorOf(context, request);
    const message = await context.hub.publish(room.value, {
      user: body.value.user,
      userId: author.userId,
      text: body.value.text,
      time: context.now().toISOString(),
    });
    context.metrics.publishTook(performance.now() - started);
    if (context.replies !== undefined && isForBot(message.text)) context.replies.start(message);
    // A client without a session (curl, a first post) gets one with its answer; it is signed only
    // now, so the message never waits for the signature.
    const setCookie = author.known
      ? undefined
      : { "set-cookie": await context.sessions.cookie(author.userId, context.secure(request)) };
    return jsonResponse(201, { id: message.id, userId: author.userId }, setCookie);
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
  let wait = context.limits[kind].take(client);
  let which: keyof typeof TOO_MANY = kind;
  if (wait === 0 && (await context.hub.room(room)) === undefined) {
    wait = context.limits.rooms.take(client);
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
