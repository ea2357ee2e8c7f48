/**
 * The `Hub`: where chat messages are stored and fanned out. This file holds only the contract
 * and its data types, so a Redis-backed hub can replace the in-memory one (`memory-hub.ts`)
 * without touching the routes. Every method is async for that reason, even where the memory
 * hub could answer at once.
 *
 * The payload shapes are those of `docs/PROTOCOL.md` ("The room stream").
 *
 * @module
 */
import type { EventMessage } from "../mod.ts";

/**
 * A stored chat message: the JSON `data` of a `message` event.
 *
 * @example
 * ```ts
 * import type { ChatMessage } from "./hub.ts";
 * const message: ChatMessage = {
 *   id: "lz3k9a1.1-7", room: "lobby", user: "alice", text: "hi", time: "2025-01-01T00:00:00.000Z",
 * };
 * ```
 */
export type ChatMessage = {
  /** `<epoch>-<seq>`, also the SSE `id:` of the event. */
  readonly id: string;
  readonly room: string;
  /** The display name the author chose (anyone may choose any name). */
  readonly user: string;
  /** Who really posted it: the id of the author's signed session. Absent on the bot's messages. */
  readonly userId?: string;
  readonly text: string;
  /** ISO 8601. */
  readonly time: string;
  /** Set on a finished bot reply: the `replyId` of its `reply-start` / `reply-delta` events. */
  readonly replyId?: string;
  /** `true` on a bot reply that failed or was cut short; its text says why. */
  readonly error?: true;
};

/**
 * What {@link Hub.publish} stores: a message without the id and room the hub assigns.
 *
 * @example
 * ```ts
 * import type { MessageInput } from "./hub.ts";
 * const input: MessageInput = { user: "alice", text: "hi", time: new Date().toISOString() };
 * ```
 */
export type MessageInput = {
  readonly user: string;
  /** The author's session id; absent for the bot. */
  readonly userId?: string;
  readonly text: string;
  readonly time: string;
  readonly replyId?: string;
  readonly error?: true;
};

/**
 * One person in a room's `presence` list: who they are (their session's user id) and the name
 * their stream gave (`?user=`).
 *
 * @example
 * ```ts
 * import type { PresenceUser } from "./hub.ts";
 * const person: PresenceUser = { userId: "Jt3vQ1xW0aZ8cK2mR7yB4g", user: "민지" };
 * ```
 */
export type PresenceUser = { readonly userId: string; readonly user: string };

/**
 * A `presence` event: the room's subscriber count after someone joined or left, and (on the
 * wire) the people among them who gave a name.
 *
 * `users` is what subscribers receive: at most {@link MAX_PRESENCE_USERS} distinct people, sorted
 * by name. {@link Hub.onPresence} listeners hear every join and leave at once and get the count
 * only: building the list on each arrival would cost a pass over the room per arrival.
 *
 * @example
 * ```ts
 * import type { PresenceEvent } from "./hub.ts";
 * const event: PresenceEvent = { type: "presence", room: "lobby", subscribers: 3 };
 * const wire: PresenceEvent = { ...event, users: [{ userId: "u1", user: "ann" }] };
 * ```
 */
export type PresenceEvent = {
  readonly type: "presence";
  readonly room: string;
  readonly subscribers: number;
  /** The named people subscribed, sorted by name; absent on what listeners hear (`[]` on the wire then). */
  readonly users?: readonly PresenceUser[];
};

/**
 * The most people a `presence` event lists; `subscribers` still counts everyone.
 *
 * @example
 * ```ts
 * import { MAX_PRESENCE_USERS } from "./hub.ts";
 * console.log(MAX_PRESENCE_USERS); // 50
 * ```
 */
export const MAX_PRESENCE_USERS = 50;

/**
 * A `typing` event: someone is writing in the room. Ephemeral: never stored, never replayed,
 * framed without an id (it does not move a client's Last-Event-ID).
 *
 * @example
 * ```ts
 * import type { TypingEvent } from "./hub.ts";
 * const event: TypingEvent = { type: "typing", room: "lobby", user: "ann", userId: "u1" };
 * ```
 */
export type TypingEvent = {
  readonly type: "typing";
  readonly room: string;
  /** The display name the typist gave. */
  readonly user: string;
  /** Who is typing: the id of their signed session. */
  readonly userId: string;
};

/**
 * Who is typing, for {@link Hub.typing}; also who a subscriber is, for {@link SubscribeOptions.who}.
 *
 * @example
 * ```ts
 * import type { Person } from "./hub.ts";
 * const ann: Person = { userId: "u1", user: "ann" };
 * ```
 */
export type Person = {
  /** The session's user id (the server's word). */
  readonly userId: string;
  /** The display name, already validated like a post's `user`. */
  readonly user: string;
};

/**
 * What {@link Hub.page} is asked: the `limit` newest retained messages older than `before`.
 *
 * @example
 * ```ts
 * import type { PageOptions } from "./hub.ts";
 * const newest: PageOptions = { limit: 50 };
 * const older: PageOptions = { before: "lz3k9a1.1-51", limit: 50 };
 * ```
 */
export type PageOptions = {
  /** A message id: only messages older than it. Absent: the newest. */
  readonly before?: string;
  /** How many at most (a positive safe integer). */
  readonly limit: number;
};

/**
 * One page of a room's retained history (`GET /rooms/:room/messages`).
 *
 * @example
 * ```ts
 * import type { HistoryPage } from "./hub.ts";
 * const page: HistoryPage = { messages: [], hasMore: false, complete: true, oldestId: null };
 * ```
 */
export type HistoryPage = {
  /** Oldest first: the newest `limit` retained messages older than `before`. */
  readonly messages: ChatMessage[];
  /** Older retained messages exist before the first of `messages`. */
  readonly hasMore: boolean;
  /**
   * The history still holds the room's very first message: nothing was ever dropped (trimmed,
   * evicted, lost with Redis). A page may say "the beginning of the room" only when it is true.
   */
  readonly complete: boolean;
  /** The oldest retained message's id, or `null` when none is retained. */
  readonly oldestId: string | null;
};

/**
 * A `reply-start` event: a streamed bot reply began. A subscriber that joins while the reply runs
 * receives one with `text` holding everything streamed so far.
 *
 * @example
 * ```ts
 * import type { ReplyStartEvent } from "./hub.ts";
 * const event: ReplyStartEvent = {
 *   type: "reply-start", replyId: "r1", room: "lobby", user: "bot", inReplyTo: "lz3k9a1.1-7",
 *   time: "2025-01-01T00:00:00.000Z", text: "",
 * };
 * ```
 */
export type ReplyStartEvent = {
  readonly type: "reply-start";
  readonly replyId: string;
  readonly room: string;
  readonly user: "bot";
  /** The id of the message being answered. */
  readonly inReplyTo: string;
  readonly time: string;
  readonly text: string;
};

/**
 * A `reply-delta` event: the next chunk of a streamed reply.
 *
 * @example
 * ```ts
 * import type { ReplyDeltaEvent } from "./hub.ts";
 * const event: ReplyDeltaEvent = { type: "reply-delta", replyId: "r1", delta: "Hello " };
 * ```
 */
export type ReplyDeltaEvent = { readonly type: "reply-delta"; readonly replyId: string; readonly delta: string };

/**
 * The ephemeral events {@link Hub.emit} fans out (never stored, never given an id). The hub keeps
 * the text of each running reply so late joiners can catch up; {@link Hub.publish} of the message
 * carrying the same `replyId` ends the reply.
 *
 * @example
 * ```ts
 * import type { ReplyEvent } from "./hub.ts";
 * const delta: ReplyEvent = { type: "reply-delta", replyId: "r1", delta: "world" };
 * ```
 */
export type ReplyEvent = ReplyStartEvent | ReplyDeltaEvent;

/**
 * Options of {@link Hub.subscribe}.
 *
 * @example
 * ```ts
 * import type { SubscribeOptions } from "./hub.ts";
 * const options: SubscribeOptions = { after: "lz3k9a1.1-41", signal: AbortSignal.timeout(60_000) };
 * ```
 */
export type SubscribeOptions = {
  /**
   * The resume cursor (the client's Last-Event-ID): replay exactly the stored messages after it.
   * When the hub cannot (the cursor fell out of the history, or names another epoch), the
   * subscription starts with a `reset` event and replays everything retained.
   */
  after?: string;
  /** Without `after`: how many of the latest messages to replay first. Default: the hub's choice. */
  replay?: number;
  /** Aborting it ends the subscription, as `return()` does. */
  signal?: AbortSignal;
  /** Who subscribes, if they gave a name: listed in the room's `presence` events while subscribed. */
  who?: Person;
};

/**
 * A live subscription to one room: SSE messages ready for `toEventStream`, in order — the
 * `reset` (if any), the replayed messages, the running replies so far, then live events.
 * `return()` unsubscribes at once, even while a `next()` is pending (that `next()` then resolves
 * as done). The iterator also ends by itself when the hub drops a subscriber that fell too far
 * behind, or closes.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * const hub = createMemoryHub();
 * const subscription = await hub.subscribe("lobby");
 * await hub.publish("lobby", { user: "alice", text: "hi", time: new Date().toISOString() });
 * for await (const message of subscription) {
 *   console.log(message.event ?? "message", message.data);
 *   break; // runs return(): unsubscribed
 * }
 * ```
 */
export interface Subscription extends AsyncIterableIterator<EventMessage> {
  /** How many events it replays from the history before live ones (for metrics), if known. */
  readonly replayed?: number;
  /** Unsubscribes now; a pending `next()` resolves as done. Idempotent. */
  return(): Promise<IteratorResult<EventMessage, undefined>>;
}

/**
 * One room's counts, as `GET /rooms` lists them.
 *
 * @example
 * ```ts
 * import type { RoomInfo } from "./hub.ts";
 * const info: RoomInfo = { room: "lobby", subscribers: 2, messages: 120 };
 * ```
 */
export type RoomInfo = {
  readonly room: string;
  readonly subscribers: number;
  /** Messages stored in the room so far (the history keeps only the latest of them). */
  readonly messages: number;
};

/**
 * Totals over every room, for `GET /healthz`.
 *
 * @example
 * ```ts
 * import type { HubStats } from "./hub.ts";
 * const stats: HubStats = { rooms: 12, subscribers: 40 };
 * ```
 */
export type HubStats = {
  readonly rooms: number;
  readonly subscribers: number;
  /** Bytes of message history held in this process (the in-memory hub; bounded by `historyBytes`). */
  readonly retainedBytes?: number;
  /** Set while the hub cannot serve (e.g. its Redis is unreachable): why, for `/healthz`'s `503`. */
  readonly unavailable?: string;
};

/**
 * Storage and fan-out of chat rooms. Implementations: `createMemoryHub` (one server instance); a
 * Redis-backed hub can implement the same methods.
 *
 * @example
 * ```ts
 * import type { Hub } from "./hub.ts";
 * async function post(hub: Hub, room: string, user: string, text: string): Promise<string> {
 *   const message = await hub.publish(room, { user, text, time: new Date().toISOString() });
 *   return message.id;
 * }
 * ```
 */
export interface Hub {
  /**
   * Stores a message (creating the room if needed) and sends it to every subscriber.
   *
   * @throws {RoomLimitError} If the room is new and no room can be evicted to make space.
   */
  publish(room: string, input: MessageInput): Promise<ChatMessage>;
  /**
   * Stores a message as `publish` does, unless one was stored under the same `key` in this room
   * within the last hour (a client retrying a post whose answer it never got): that message is then
   * answered again, `replayed`, and nothing is stored or sent. Atomic: of two racing calls with
   * one key, one stores. The key is the caller's to scope: the routes make it the author's user
   * id and their `Idempotency-Key`. Optional: a hub without it gets no deduplication.
   *
   * @throws {KeyReusedError} If `key` was used for a message of another name or text.
   * @throws {RoomLimitError} As `publish`.
   */
  publishOnce?(room: string, input: MessageInput, key: string): Promise<PublishedOnce>;
  /** Sends a reply event to the room's subscribers (no-op for a room that does not exist). */
  emit(room: string, event: ReplyEvent): Promise<void>;
  /**
   * Subscribes to a room (creating it if needed) and announces the new subscriber with `presence`.
   *
   * @throws {RoomLimitError} If the room is new and no room can be evicted to make space.
   */
  subscribe(room: string, options?: SubscribeOptions): Promise<Subscription>;
  /** The latest `limit` stored messages of the room, oldest first (`[]` for an unknown room). */
  history(room: string, limit: number): Promise<ChatMessage[]>;
  /**
   * A page of the room's retained history, for scrolling back: the `limit` newest messages older
   * than `before` (without it, the newest). A `before` of another life of the room (a restart, an
   * evicted room, a Redis loss) or of another room gets an empty page (`hasMore: false`).
   *
   * @throws {InvalidCursorError} If `before` is not an id this kind of hub could have issued.
   */
  page(room: string, options: PageOptions): Promise<HistoryPage>;
  /**
   * Tells the room's current subscribers that `who` is typing (a `typing` event: not stored, not
   * replayed). At most one per room and user id per typing interval (2 s): later calls within it
   * are absorbed into the event already sent.
   *
   * @returns Whether an event was sent (`false`: absorbed).
   */
  typing(room: string, who: Person): Promise<boolean>;
  /** The room's counts, or `undefined` if it does not exist. */
  room(room: string): Promise<RoomInfo | undefined>;
  /** Every room's counts, in no particular order. */
  rooms(): Promise<RoomInfo[]>;
  /** Totals over every room. */
  stats(): Promise<HubStats>;
  /**
   * Calls `listener` after every join or leave, with the room's new count. Returns the function
   * that removes the listener. The reply runner uses it to stop replies nobody watches.
   */
  onPresence(listener: (event: PresenceEvent) => void): () => void;
  /**
   * Takes one token from `client`'s bucket named `bucket` (a token bucket of `burst` tokens,
   * refilled at `perSecond`), kept where every instance on this hub's storage counts it: how a
   * client's rate limits hold across instances. Optional: without it (the in-memory hub, one
   * instance) the app keeps its buckets itself.
   *
   * @returns 0 when allowed; otherwise the whole seconds until a token is back (for `Retry-After`).
   * @throws {HubUnavailableError} If the shared storage cannot be reached (the app then counts
   *   on this instance alone until it can).
   * @throws {RangeError} If `burst` is not a positive safe integer or `perSecond` not a positive finite number.
   */
  takeToken?(bucket: string, client: string, burst: number, perSecond: number): Promise<number>;
  /** Ends every subscription and refuses further publishing. */
  close(): Promise<void>;
}

/**
 * What {@link Hub.publishOnce} answers: the message, and whether an earlier call stored it.
 *
 * @example
 * ```ts
 * import type { PublishedOnce } from "./hub.ts";
 * const again: PublishedOnce = {
 *   message: { id: "e-1", room: "lobby", user: "ann", text: "hi", time: "2025-01-01T00:00:00.000Z" },
 *   replayed: true,
 * };
 * ```
 */
export type PublishedOnce = { readonly message: ChatMessage; readonly replayed: boolean };

/**
 * How long {@link Hub.publishOnce} remembers a key: an hour (a retry after a longer outage stores
 * the message again). The in-memory hub also keeps at most 100 000 keys, the oldest going first.
 *
 * @example
 * ```ts
 * import { PUBLISH_KEY_TTL_MS } from "./hub.ts";
 * console.log(PUBLISH_KEY_TTL_MS / 60_000); // 60
 * ```
 */
export const PUBLISH_KEY_TTL_MS = 3_600_000;

/**
 * Thrown by {@link Hub.publishOnce} when its key was used for a message with another name or
 * text: a client bug (one key reused for two messages), answered `422`.
 *
 * @example
 * ```ts
 * import { KeyReusedError } from "./hub.ts";
 * const error = new KeyReusedError();
 * console.log(error.type); // "key-reused"
 * ```
 */
export class KeyReusedError extends Error {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "key-reused" as const;

  constructor() {
    super("Cannot publish: this key was used for another message");
    this.name = "KeyReusedError";
  }
}

/**
 * Thrown by {@link Hub.publish} and {@link Hub.subscribe} when the hub holds its maximum number of
 * rooms and none can be evicted (every room has subscribers). The routes answer `503`.
 *
 * @example
 * ```ts
 * import { RoomLimitError } from "./hub.ts";
 * try {
 *   throw new RoomLimitError(10_000);
 * } catch (error) {
 *   if (error instanceof RoomLimitError) console.log(error.type, error.limit);
 * }
 * ```
 */
export class RoomLimitError extends RangeError {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "room-limit" as const;
  /** The configured maximum number of rooms. */
  readonly limit: number;

  constructor(limit: number) {
    super(`Cannot create room: the hub holds its maximum of ${limit} rooms and every one has subscribers`);
    this.name = "RoomLimitError";
    this.limit = limit;
  }
}

/**
 * Thrown by {@link Hub.page} when `before` is not an id the hub could have issued (malformed).
 * The routes answer `400`. An id of the right shape from another room or room life is not an
 * error: its page is empty.
 *
 * @example
 * ```ts
 * import { InvalidCursorError } from "./hub.ts";
 * const error = new InvalidCursorError("garbage");
 * console.log(error.type, error.message); // "invalid-cursor" 'Cannot page: "garbage" is not a message id'
 * ```
 */
export class InvalidCursorError extends RangeError {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "invalid-cursor" as const;

  constructor(cursor: string) {
    super(`Cannot page: ${JSON.stringify(cursor.slice(0, 64))} is not a message id`);
    this.name = "InvalidCursorError";
  }
}

/**
 * Thrown by a hub's methods after {@link Hub.close}.
 *
 * @example
 * ```ts
 * import { HubClosedError } from "./hub.ts";
 * const error = new HubClosedError();
 * console.log(error.type); // "hub-closed"
 * ```
 */
export class HubClosedError extends Error {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "hub-closed" as const;

  constructor() {
    super("Cannot use the hub: it is closed");
    this.name = "HubClosedError";
  }
}

/**
 * Thrown by a hub's methods when its storage cannot be reached (a Redis hub while Redis is down or
 * does not answer in time). Nothing was stored; the routes answer `503` and the client may retry.
 *
 * @example
 * ```ts
 * import { HubUnavailableError } from "./hub.ts";
 * const error = new HubUnavailableError("Redis is unreachable", new Error("ECONNREFUSED"));
 * console.log(error.type, error.message); // "hub-unavailable" "Cannot reach the hub: Redis is unreachable"
 * ```
 */
export class HubUnavailableError extends Error {
  /** Discriminant for callers that branch on the error kind. */
  readonly type = "hub-unavailable" as const;

  constructor(reason: string, cause?: unknown) {
    super(`Cannot reach the hub: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = "HubUnavailableError";
  }
}
