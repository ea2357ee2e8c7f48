/**
 * The Redis {@link Hub}: many server instances, one chat. Each room is a Redis stream (its
 * retained history), a meta hash, a hash of running replies and a presence hash, all under the
 * room's hash tag; the Lua scripts in `_redis-scripts.ts` change them atomically and publish a
 * numbered notification on the room's channel. An instance subscribes to the channels of the
 * rooms it has subscribers in (one subscriber connection for all of them, never one per client)
 * and delivers each notification in number order:
 *
 * - a notification whose number is not the next one (a dropped pub/sub connection, a Redis
 *   restart) makes the instance read what it missed from the stream before it delivers anything
 *   newer; every reconnect to Redis does the same for every room;
 * - a client joining gets a consistent snapshot (its replay, the running replies) taken at one
 *   notification number, then the live notifications after that number: no gap, no duplicate;
 * - ids are `<epoch>-<entry id>`: the epoch names one life of the room's stream, so a cursor from
 *   a stream Redis lost (restart without persistence, a flush, a failover that lost writes) gets
 *   `reset` (`unknown-cursor`) instead of a silent gap, and one older than what is retained gets
 *   `reset` (`history-truncated`).
 *
 * Retention is `MAXLEN ~ historySize` per room; every key of a room expires `roomTtlMs` after
 * its last activity (an instance with subscribers in the room keeps it alive).
 *
 * Two things travel outside the numbered order, on the same channel: `typing` events (sent once
 * per person per interval whichever instance is asked, delivered as they come, never read back),
 * and word that an instance's presence entry changed, so the others read the counts and the
 * people listed in `presence` again at once: another instance's joins show within one tick.
 *
 * @module
 */
import type { EventMessage } from "../mod.ts";
import { checkNumber } from "./_check.ts";
import { broadcast, chatMessage, messageFingerprint, pageRequest, tellPresence } from "./_hub-parts.ts";
import { PresenceGate } from "./_presence.ts";
import {
  EMIT_SCRIPT,
  MARK_LOST_SCRIPT,
  PAGE_SCRIPT,
  PUBLISH_ONCE_SCRIPT,
  PUBLISH_SCRIPT,
  RATE_SCRIPT,
  SNAPSHOT_SCRIPT,
  TICK_SCRIPT,
  TYPING_SCRIPT,
} from "./_redis-scripts.ts";
import { mergeUsers, Roster } from "./_roster.ts";
import { MemorySubscription } from "./_subscription.ts";
import { TYPING_INTERVAL_MS, TypingThrottle } from "./_typing.ts";
import {
  type ChatMessage,
  type HistoryPage,
  type Hub,
  HubClosedError,
  type HubStats,
  HubUnavailableError,
  KeyReusedError,
  MAX_PRESENCE_USERS,
  type MessageInput,
  type PageOptions,
  type Person,
  type PresenceEvent,
  type PresenceUser,
  PUBLISH_KEY_TTL_MS,
  type PublishedOnce,
  type ReplyEvent,
  type ReplyStartEvent,
  type RoomInfo,
  RoomLimitError,
  type SubscribeOptions,
  type Subscription,
} from "./hub.ts";
import { type ChatNumericOptions, readOption } from "./options.ts";
import type { RedisConnection } from "./redis-connection.ts";
import { encodeRoomEvent } from "./wire.ts";

/**
 * Options of {@link createRedisHub}.
 *
 * @example
 * ```ts no-run
 * import type { RedisHubOptions } from "./redis-hub.ts";
 * import type { RedisConnection } from "./redis-connection.ts";
 * declare const redis: RedisConnection; // from `connectRedis(url)` of the package's `redis` entry
 * const options: RedisHubOptions = { redis, keyPrefix: "chat", historySize: 500 };
 * ```
 */
export type RedisHubOptions = Pick<
  ChatNumericOptions,
  "historySize" | "replayCount" | "queueLimit" | "maxRooms" | "presenceIntervalMs"
> & {
  /** The connections (the package's `redis` entry makes them from a URL). The hub closes them on `close()`. */
  redis: RedisConnection;
  /** Prefix of every key and channel. Default `"eddy"`. */
  keyPrefix?: string;
  /** A room's keys expire this long after its last activity. Default 7 days. */
  roomTtlMs?: number;
  /**
   * How often an instance writes its head counts, renews its replies' leases and ends replies
   * whose instance died. Default 2000 ms: counts across instances are at most ~2 s old.
   */
  syncIntervalMs?: number;
  /** A reply whose instance has not renewed it for this long is ended by another. Default 10 000 ms. */
  replyLeaseMs?: number;
  /** Names this instance in the presence hashes. Default a random UUID. */
  instanceId?: string;
  /** The shortest time between two `typing` events of one person in one room. Default 2000 ms (the protocol's). */
  typingIntervalMs?: number;
  /** Receives errors nobody awaits (a failed background sync, a presence listener). Default `console.error`. */
  onError?(error: unknown): void;
};

/**
 * Creates a hub whose rooms live in Redis, shared by every instance that uses the same Redis and
 * `keyPrefix`.
 *
 * @param options The connections, sizes and timings; see {@link RedisHubOptions}.
 * @returns The hub.
 * @throws {RangeError} If a size or timing is not of its kind, or `keyPrefix` holds a brace,
 *   space or line break.
 *
 * @example
 * ```ts no-run
 * import { createChatApp, createRedisHub, type RedisConnection } from "./mod.ts";
 * // The package's `redis` entry makes one: `await connectRedis("redis://127.0.0.1:6379")`.
 * declare const redis: RedisConnection;
 * const app = createChatApp({ hub: createRedisHub({ redis }) });
 * ```
 */
export function createRedisHub(options: RedisHubOptions): Hub {
  return new RedisHub(options);
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** While Redis is unreachable, how often a room retries reading what it missed. */
const RESYNC_RETRY_MS = 500;
/** Notifications a room holds while it reads the stream; more are dropped and read back after. */
const MAX_BUFFERED_NOTES = 10_000;
/** Rooms `rooms()` lists at most: the most recently active ones. */
const ROOMS_LISTED = 1000;
const CURSOR = /^([^-\s]+)-(\d{1,16}-\d{1,16})$/;
const REAPED_NOTE = "\n\n[The reply was cut off: the server writing it stopped.]";
const REAPED_NOTE_KO = "\n\n[답이 끊겼어요: 답을 쓰던 서버가 멈췄어요.]";
const UNREACHABLE = "Redis is unreachable";
/** How long a join waits for Redis to confirm its room's channel (it queues while Redis is away). */
const JOIN_TIMEOUT_MS = 5000;

/** A notification as the room's channel carries it. */
type Note = {
  readonly n: number;
  readonly epoch: string;
  /** A message's stream entry id; `undefined` for a reply event. */
  readonly entry: string | undefined;
  readonly frame: EventMessage;
};

/** The reply of `SNAPSHOT_SCRIPT`, decoded. */
type Snapshot = {
  readonly epoch: string | undefined;
  readonly n: number;
  readonly status: "ok" | "latest" | "truncated" | "unknown";
  readonly first: string | undefined;
  readonly last: string | undefined;
  readonly entries: readonly { readonly id: string; readonly d: string; readonly n: number }[];
  readonly replies: readonly { readonly start: string; readonly text: string }[];
};

/** A client being joined: live notifications collect here until its snapshot is in. */
type Join = {
  readonly items: { n: number; frame: EventMessage }[];
  /** More live events arrived than a subscriber may queue: it starts ended, and reconnects. */
  overflow: boolean;
  snapshot: Snapshot | undefined;
  backlog: EventMessage[] | undefined;
  finish(subscription: Subscription): void;
  readonly signal: AbortSignal | undefined;
  readonly after: string | undefined;
  readonly replay: number | undefined;
  readonly who: Person | undefined;
};

class LocalRoom {
  readonly subscribers = new Set<MemorySubscription<LocalRoom>>();
  readonly joins = new Set<Join>();
  /** The epoch of what this instance delivered; `undefined` before the room's first message. */
  epoch: string | undefined;
  /** The number of the last notification delivered; -1 until the room's first snapshot. */
  lastN = -1;
  /** The stream id of the last message delivered. */
  lastEntry = "0-0";
  /** The number the room started delivering after (its first read, or its last restart). */
  baseN = 0;
  /** The listener its channel is subscribed with. */
  readonly listener: (message: string) => void;
  /** Notifications that arrived while the room was reading what it missed. */
  buffer: Note[] = [];
  syncing = true;
  /** Other instances' subscribers, as of the last tick. */
  others = 0;
  /** Who each named subscriber here is; the roster lists them. */
  readonly people = new Map<MemorySubscription<LocalRoom>, Person>();
  readonly roster = new Roster();
  /** Other instances' named people, merged, as of the last read; and that list's JSON, to see a change. */
  otherUsers: readonly PresenceUser[] = [];
  otherUsersJson = "[]";
  /** What the last tick wrote for this instance: the count and the people's JSON (`undefined`: rewrite). */
  sentCount = -1;
  sentUsers: string | undefined;
  /** A presence read is under way; `again`: another was asked for meanwhile. */
  refreshing = false;
  refreshAgain = false;
  /** The total last told to `onPresence` listeners. */
  told = -1;
  /** Resolves once the room's channel is subscribed. */
  ready: Promise<void>;
  presence: PresenceGate;
  readonly name: string;
  readonly keys: readonly string[];
  readonly channel: string;

  constructor(
    name: string,
    prefix: string,
    presence: (room: LocalRoom) => PresenceGate,
    listener: (room: LocalRoom, message: string) => void,
  ) {
    this.name = name;
    this.listener = (message) => listener(this, message);
    this.keys = roomKeys(prefix, name);
    this.channel = `${prefix}:{${name}}:c`;
    this.presence = presence(this);
    this.ready = Promise.resolve();
  }

  get total(): number {
    return this.subscribers.size + this.others;
  }

  /** The people a `presence` event lists: ours and the other instances', merged. */
  users(): readonly PresenceUser[] {
    return this.otherUsers.length === 0 ? this.roster.list() : mergeUsers([this.roster.list(), this.otherUsers]);
  }
}

function roomKeys(prefix: string, room: string): string[] {
  // A room name holds no brace (PROTOCOL.md), so `{room}` is its whole name: one Cluster slot.
  const tag = `${prefix}:{${room}}`;
  return [`${tag}:s`, `${tag}:m`, `${tag}:r`, `${tag}:p`, `${tag}:u`];
}

class RedisHub implements Hub {
  readonly #redis: RedisConnection;
  readonly #prefix: string;
  readonly #rooms = new Map<string, LocalRoom>();
  readonly #listeners = new Set<(event: PresenceEvent) => void>();
  /** Replies this instance runs, by replyId: their leases are renewed each tick. */
  readonly #ownReplies = new Map<string, string>();
  readonly #scripts = new Map<string, string>();
  readonly #historySize: number;
  readonly #replayCount: number;
  readonly #queueLimit: number;
  readonly #maxRooms: number;
  readonly #presenceIntervalMs: number;
  readonly #roomTtlMs: number;
  readonly #syncIntervalMs: number;
  readonly #replyLeaseMs: number;
  readonly #instanceId: string;
  readonly #onError: (error: unknown) => void;
  readonly #onLeave = (subscription: MemorySubscription<LocalRoom>) => this.#leave(subscription.tag, subscription);
  readonly #gate = (room: LocalRoom) =>
    new PresenceGate(
      this.#presenceIntervalMs,
      () => room.total,
      (subscribers) =>
        this.#broadcast(room, encodeRoomEvent({ type: "presence", room: room.name, subscribers, users: room.users() })),
    );
  readonly #typing: TypingThrottle;
  readonly #typingIntervalMs: number;
  readonly #tick: ReturnType<typeof setInterval>;
  readonly #stopReconnect: () => void;
  #subscribers = 0;
  #closed = false;

  constructor(options: RedisHubOptions) {
    const action = "Cannot create hub";
    this.#historySize = readOption(options, "historySize", action);
    this.#replayCount = Math.min(readOption(options, "replayCount", action), this.#historySize);
    this.#queueLimit = readOption(options, "queueLimit", action);
    this.#maxRooms = readOption(options, "maxRooms", action);
    this.#presenceIntervalMs = readOption(options, "presenceIntervalMs", action);
    this.#roomTtlMs = positive(options.roomTtlMs, 7 * DAY_MS, "roomTtlMs");
    this.#syncIntervalMs = positive(options.syncIntervalMs, 2000, "syncIntervalMs");
    this.#replyLeaseMs = positive(options.replyLeaseMs, 10_000, "replyLeaseMs");
    this.#typingIntervalMs = positive(options.typingIntervalMs, TYPING_INTERVAL_MS, "typingIntervalMs");
    this.#typing = new TypingThrottle(this.#typingIntervalMs);
    this.#prefix = options.keyPrefix ?? "eddy";
    if (!/^[^\s{}]+$/.test(this.#prefix)) {
      throw new RangeError(
        `${action}: "keyPrefix" must be non-empty without braces or white space, received ${JSON.stringify(this.#prefix)}`,
      );
    }
    this.#instanceId = options.instanceId ?? crypto.randomUUID();
    this.#onError = options.onError ?? ((error) => console.error("eddy: redis hub:", error));
    this.#redis = options.redis;
    this.#stopReconnect = this.#redis.onReconnect(() => {
      for (const room of this.#rooms.values()) if (!room.syncing) void this.#resync(room);
    });
    this.#tick = setInterval(() => void this.#sync(), this.#syncIntervalMs);
    (this.#tick as { unref?: () => void }).unref?.();
  }

  async publish(name: string, input: MessageInput): Promise<ChatMessage> {
    return (await this.#publish(name, input, undefined)).message;
  }

  async publishOnce(name: string, input: MessageInput, key: string): Promise<PublishedOnce> {
    return this.#publish(name, input, key);
  }

  async #publish(name: string, input: MessageInput, key: string | undefined): Promise<PublishedOnce> {
    this.#assertOpen();
    // Stored without its id, which Redis assigns (the entry id) and every reader prefixes.
    const { id: _id, ...stored } = chatMessage("", name, input);
    const d = JSON.stringify(stored);
    const keys = roomKeys(this.#prefix, name);
    const args = [
      newEpoch(),
      d,
      String(this.#historySize),
      `${this.#prefix}:{${name}}:c`,
      input.replyId ?? "",
      String(this.#roomTtlMs),
    ];
    const fingerprint = messageFingerprint(input);
    const stores =
      key === undefined
        ? this.#run(PUBLISH_SCRIPT, keys, args)
        : this.#run(
            PUBLISH_ONCE_SCRIPT,
            // Encoded: the key may hold a brace, which would end the hash tag early.
            [...keys, `${this.#prefix}:{${name}}:k:${encodeURIComponent(key)}`],
            [...args, input.time, String(PUBLISH_KEY_TTL_MS), fingerprint],
          );
    const [reply] = await Promise.all([
      stores,
      // The room list is an index, not the message: its failure must not turn a stored post into a 503.
      this.#command(["ZADD", `${this.#prefix}:rooms`, String(Date.now()), name]).catch(() => {}),
    ]);
    const [epoch, entry, time, seen, replayed] = reply as [string, string, number | string, string, number];
    if (replayed === 1) {
      if (seen !== fingerprint) throw new KeyReusedError();
      return { message: chatMessage(`${epoch}-${entry}`, name, { ...input, time: String(time) }), replayed: true };
    }
    if (input.replyId !== undefined) this.#ownReplies.delete(input.replyId);
    return { message: toMessage(epoch, entry, d), replayed: false };
  }

  async emit(name: string, event: ReplyEvent): Promise<void> {
    this.#assertOpen();
    const start = event.type === "reply-start";
    if (start) this.#ownReplies.set(event.replyId, name);
    await this.#run(EMIT_SCRIPT, roomKeys(this.#prefix, name), [
      start ? "start" : "delta",
      event.replyId,
      JSON.stringify(start ? { ...event, text: "" } : event),
      String(this.#replyLeaseMs),
      String(this.#roomTtlMs),
      `${this.#prefix}:{${name}}:c`,
      start ? event.text : event.delta,
    ]);
  }

  async subscribe(name: string, options: SubscribeOptions = {}): Promise<Subscription> {
    this.#assertOpen();
    const { signal, after } = options;
    if (options.replay !== undefined)
      checkNumber(options.replay, "a non-negative safe integer", "Cannot subscribe", "replay");
    if (signal?.aborted) return MemorySubscription.ended();
    // Joining needs Redis (a snapshot, maybe a channel): refuse at once rather than wait for it.
    if (!this.#redis.ready) throw new HubUnavailableError(UNREACHABLE);
    const room = this.#roomFor(name);
    let finish!: (subscription: Subscription) => void;
    const joined = new Promise<Subscription>((resolve) => (finish = resolve));
    const join: Join = {
      items: [],
      overflow: false,
      snapshot: undefined,
      backlog: undefined,
      finish,
      signal,
      after,
      replay: options.replay,
      who: options.who === undefined ? undefined : { userId: options.who.userId, user: options.who.user },
    };
    room.joins.add(join);
    try {
      await deadline(room.ready, JOIN_TIMEOUT_MS);
      await this.#snapJoin(room, join);
    } catch (error) {
      room.joins.delete(join);
      this.#forget(room);
      throw this.#unavailable(error);
    }
    this.#tryFinish(room, join);
    return joined;
  }

  /** Takes the join's snapshot: its replay (or resume) and the running replies, at one number. */
  async #snapJoin(room: LocalRoom, join: Join): Promise<void> {
    const { after } = join;
    const cursor = after === undefined ? null : CURSOR.exec(after);
    const replay = Math.min(join.replay ?? this.#replayCount, this.#historySize);
    const snapshot =
      cursor === null
        ? await this.#snapshot(room, "latest", "", "0-0", after === undefined ? replay : this.#historySize)
        : await this.#snapshot(room, "after", cursor[1]!, cursor[2]!, this.#historySize);
    join.snapshot = snapshot;
    join.backlog = this.#backlog(snapshot, after, after !== undefined && cursor === null);
  }

  async history(name: string, limit: number): Promise<ChatMessage[]> {
    this.#assertOpen();
    const snapshot = decodeSnapshot(
      await this.#run(SNAPSHOT_SCRIPT, roomKeys(this.#prefix, name), ["latest", "", "0-0", String(limit)]),
    );
    if (snapshot.epoch === undefined) return [];
    return snapshot.entries.map((entry) => toMessage(snapshot.epoch!, entry.id, entry.d));
  }

  async page(name: string, options: PageOptions): Promise<HistoryPage> {
    this.#assertOpen();
    const { limit, cursor } = pageRequest(options, CURSOR);
    const reply = (await this.#run(PAGE_SCRIPT, roomKeys(this.#prefix, name), [
      cursor?.[1] ?? "",
      cursor?.[2] ?? "",
      String(limit),
    ])) as [string | null, number, string | null, [string, string[]][], number];
    const [epoch, complete, first, entries, more] = reply;
    const oldestId = epoch === null || first === null ? null : `${epoch}-${first}`;
    const messages = epoch === null ? [] : decodeEntries(entries).map((entry) => toMessage(epoch, entry.id, entry.d));
    return { messages, hasMore: Number(more) === 1, complete: Number(complete) === 1, oldestId };
  }

  async typing(name: string, who: Person): Promise<boolean> {
    this.#assertOpen();
    // This instance's throttle first: a flood from one person costs no Redis call.
    if (!this.#typing.take(name, who.userId)) return false;
    const tag = `${this.#prefix}:{${name}}`;
    const event = JSON.stringify({ room: name, user: who.user, userId: who.userId });
    const sent = await this.#run(
      TYPING_SCRIPT,
      [`${tag}:y:${who.userId}`],
      [String(this.#typingIntervalMs), `${tag}:c`, event],
    );
    return Number(sent) === 1;
  }

  async takeToken(bucket: string, client: string, burst: number, perSecond: number): Promise<number> {
    this.#assertOpen();
    checkNumber(burst, "a positive safe integer", "Cannot take a token", "burst");
    checkNumber(perSecond, "a positive finite number", "Cannot take a token", "perSecond");
    // The client key may come from a proxy's header: encoded, it holds no brace to end the hash
    // tag early, and bounded, no huge key.
    const key = `${this.#prefix}:limit:${encodeURIComponent(bucket)}:{${encodeURIComponent(client).slice(0, 256)}}`;
    return Number(await this.#run(RATE_SCRIPT, [key], [String(burst), String(perSecond / 1000)]));
  }

  async room(name: string): Promise<RoomInfo | undefined> {
    this.#assertOpen();
    const [info] = await this.#roomInfos([name]);
    return info;
  }

  async rooms(): Promise<RoomInfo[]> {
    this.#assertOpen();
    const key = `${this.#prefix}:rooms`;
    await this.#command(["ZREMRANGEBYSCORE", key, "-inf", `(${Date.now() - this.#roomTtlMs}`]);
    const names = (await this.#command([
      "ZRANGE",
      key,
      "+inf",
      "-inf",
      "BYSCORE",
      "REV",
      "LIMIT",
      "0",
      String(ROOMS_LISTED),
    ])) as string[];
    const infos = await this.#roomInfos(names);
    return infos.filter((info): info is RoomInfo => info !== undefined);
  }

  async stats(): Promise<HubStats> {
    const stats = { rooms: this.#rooms.size, subscribers: this.#subscribers };
    return this.#redis.ready ? stats : { ...stats, unavailable: UNREACHABLE };
  }

  onPresence(listener: (event: PresenceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#tick);
    this.#stopReconnect();
    const rooms = [...this.#rooms.values()];
    for (const room of rooms) {
      room.presence.stop();
      for (const subscription of room.subscribers) subscription.end();
      room.subscribers.clear();
      this.#forgetPeople(room);
      for (const join of room.joins) join.finish(MemorySubscription.ended());
      room.joins.clear();
    }
    this.#rooms.clear();
    this.#typing.clear();
    this.#listeners.clear();
    this.#subscribers = 0;
    // Take this instance's counts out of the rooms' presence now rather than when they expire.
    await Promise.allSettled(rooms.map((room) => this.#tickRoom(room, 0)));
    await this.#redis.close();
  }

  // --- joining ---------------------------------------------------------------------------------

  #roomFor(name: string): LocalRoom {
    const existing = this.#rooms.get(name);
    if (existing !== undefined) return existing;
    if (this.#rooms.size >= this.#maxRooms) throw new RoomLimitError(this.#maxRooms);
    const room = new LocalRoom(name, this.#prefix, this.#gate, this.#onNote);
    this.#rooms.set(name, room);
    // Subscribed before anything is read: whatever happens after the first read is heard.
    room.ready = this.#redis.subscribe(room.channel, room.listener);
    room.ready.then(
      () => void this.#resync(room),
      () => {}, // the joins awaiting `ready` report it
    );
    return room;
  }

  /** What a joining client receives before live events, from its snapshot. */
  #backlog(snapshot: Snapshot, after: string | undefined, malformed: boolean): EventMessage[] {
    const items: EventMessage[] = [];
    const { epoch, status } = snapshot;
    if (after !== undefined && (malformed || status === "truncated" || status === "unknown")) {
      const reason = status === "truncated" ? "history-truncated" : "unknown-cursor";
      const oldestId = epoch !== undefined && snapshot.first !== undefined ? `${epoch}-${snapshot.first}` : null;
      items.push(encodeRoomEvent({ type: "reset", reason, lastEventId: after, oldestId }));
    }
    if (epoch !== undefined) {
      for (const entry of snapshot.entries) items.push(messageFrame(epoch, entry.id, entry.d));
    }
    for (const reply of snapshot.replies) items.push(replyStartFrame(reply.start, reply.text));
    return items;
  }

  // A join completes once the room has delivered up to its snapshot's number: the live
  // notifications after that number follow its backlog, those up to it are in the backlog.
  #tryFinish(room: LocalRoom, join: Join): void {
    const { snapshot, backlog } = join;
    if (snapshot === undefined || backlog === undefined || room.lastN < snapshot.n || room.syncing) return;
    if (snapshot.n < room.baseN) {
      // Taken before the room's own first read: what lies between was delivered to nobody here.
      join.snapshot = undefined;
      this.#snapJoin(room, join).then(
        () => this.#tryFinish(room, join),
        () => {
          room.joins.delete(join);
          join.finish(MemorySubscription.ended());
          this.#forget(room);
        },
      );
      return;
    }
    room.joins.delete(join);
    if (join.signal?.aborted || this.#closed || join.overflow) {
      join.finish(MemorySubscription.ended());
      this.#forget(room);
      return;
    }
    for (const item of join.items) if (item.n > snapshot.n) backlog.push(item.frame);
    const subscription = new MemorySubscription(backlog, this.#queueLimit, this.#onLeave, join.signal, room);
    room.subscribers.add(subscription);
    if (join.who !== undefined) {
      room.people.set(subscription, join.who);
      room.roster.add(join.who);
    }
    this.#subscribers++;
    this.#presenceChanged(room);
    join.finish(subscription);
  }

  #finishJoins(room: LocalRoom): void {
    for (const join of [...room.joins]) this.#tryFinish(room, join);
  }

  #leave(room: LocalRoom, subscription: MemorySubscription<LocalRoom>): void {
    if (!room.subscribers.delete(subscription)) return;
    const who = room.people.get(subscription);
    if (who !== undefined) {
      room.people.delete(subscription);
      room.roster.remove(who);
    }
    this.#subscribers--;
    this.#presenceChanged(room);
    this.#forget(room);
  }

  /** Drops a room nobody here watches or joins any more: its channel, its state. */
  #forget(room: LocalRoom): void {
    if (room.subscribers.size > 0 || room.joins.size > 0 || this.#rooms.get(room.name) !== room) return;
    this.#rooms.delete(room.name);
    room.presence.stop();
    this.#redis.unsubscribe(room.channel, room.listener).catch(() => {});
    this.#tickRoom(room, 0).catch(() => {}); // take our count out of its presence
  }

  // --- live delivery ---------------------------------------------------------------------------

  readonly #onNote = (room: LocalRoom, message: string): void => {
    if (this.#rooms.get(room.name) !== room) return;
    // Unnumbered kinds first: they are outside the delivery order, so they neither wait for a
    // re-read nor make one.
    if (message.startsWith("t ")) {
      this.#onTyping(room, message.slice(2));
      return;
    }
    if (message.startsWith("p ")) {
      if (message.slice(2) !== this.#instanceId) this.#refresh(room);
      return;
    }
    let note: Note;
    try {
      note = parseNote(message);
    } catch (error) {
      this.#onError(error);
      return;
    }
    if (room.syncing || room.lastN < 0) {
      // Bounded: what is dropped here is read back from the stream (its number leaves a gap).
      if (room.buffer.length < MAX_BUFFERED_NOTES) room.buffer.push(note);
      return;
    }
    this.#apply(room, note);
  };

  /** A `typing` event from any instance: to this instance's subscribers now (joiners miss it: it is ephemeral). */
  #onTyping(room: LocalRoom, json: string): void {
    let event: { room?: unknown; user?: unknown; userId?: unknown };
    try {
      event = JSON.parse(json) as typeof event;
    } catch (error) {
      this.#onError(error);
      return;
    }
    const { user, userId } = event;
    if (typeof user !== "string" || typeof userId !== "string") return;
    this.#broadcast(room, encodeRoomEvent({ type: "typing", room: room.name, user, userId }));
  }

  /** Delivers one notification in order; `false` if it started a re-read instead. */
  #apply(room: LocalRoom, note: Note): boolean {
    if (room.epoch !== undefined && note.epoch !== room.epoch) {
      this.#markLost(room);
      this.#restart(room); // Redis lost the room's stream: every cursor here is void
      return false;
    }
    if (note.n <= room.lastN) {
      // Already delivered, unless Redis lost its newest writes and numbers repeat for new ids.
      if (note.entry !== undefined && compareEntries(note.entry, room.lastEntry) > 0) {
        this.#markLost(room);
        this.#restart(room);
        return false;
      }
      return true;
    }
    if (note.n > room.lastN + 1) {
      room.buffer.push(note);
      void this.#resync(room);
      return false;
    }
    room.epoch = note.epoch;
    room.lastN = note.n;
    if (note.entry !== undefined) room.lastEntry = note.entry;
    this.#deliver(room, note.n, note.frame);
    return true;
  }

  #deliver(room: LocalRoom, n: number, frame: EventMessage): void {
    for (const join of room.joins) {
      if (join.items.length < this.#queueLimit) join.items.push({ n, frame });
      else join.overflow = true;
    }
    this.#broadcast(room, frame);
  }

  #broadcast(room: LocalRoom, frame: EventMessage): void {
    broadcast(room.subscribers, frame, (subscription) => this.#leave(room, subscription));
  }

  /**
   * Reads what the room missed from its stream (after a gap, a reconnect, or to start), delivers
   * it, then the notifications that arrived meanwhile. Retries while Redis is unreachable.
   */
  async #resync(room: LocalRoom): Promise<void> {
    room.syncing = true;
    for (;;) {
      if (this.#closed || this.#rooms.get(room.name) !== room) return;
      try {
        const known = room.lastN >= 0;
        const snapshot = known
          ? await this.#snapshot(room, "after", room.epoch ?? "", room.lastEntry, 0)
          : await this.#snapshot(room, "latest", "", "0-0", 0);
        if (this.#closed || this.#rooms.get(room.name) !== room) return;
        this.#catchUp(room, snapshot, known);
        break;
      } catch (error) {
        if (!(error instanceof HubUnavailableError)) this.#onError(error);
        await new Promise((resolve) => setTimeout(resolve, RESYNC_RETRY_MS));
      }
    }
    room.syncing = false;
    this.#drain(room);
    this.#finishJoins(room);
  }

  #catchUp(room: LocalRoom, snapshot: Snapshot, known: boolean): void {
    const sameLife =
      known &&
      snapshot.status === "ok" &&
      (room.epoch === undefined || snapshot.epoch === room.epoch) &&
      snapshot.n >= room.lastN;
    if (!sameLife) {
      // First read, or the stream is not the one delivered from: start over from Redis' state.
      // What this instance delivered is gone (another epoch, a lost tail, numbers gone back): the
      // history can never be complete again. A cursor merely trimmed away loses nothing of Redis'.
      if (
        known &&
        room.epoch !== undefined &&
        (snapshot.epoch !== room.epoch || snapshot.status === "unknown" || snapshot.n < room.lastN)
      ) {
        this.#markLost(room);
      }
      if (known) {
        this.#endAll(room);
        this.#forget(room);
      }
      room.epoch = snapshot.epoch;
      room.lastN = snapshot.n;
      room.baseN = snapshot.n;
      room.lastEntry = snapshot.last ?? "0-0";
      return;
    }
    if (snapshot.n === room.lastN) return;
    const epoch = snapshot.epoch!;
    for (const entry of snapshot.entries) {
      if (entry.n > room.lastN) this.#deliver(room, entry.n, messageFrame(epoch, entry.id, entry.d));
    }
    // Reply events of the gap cannot be read back: each running reply starts over with its text.
    for (const reply of snapshot.replies) this.#deliver(room, snapshot.n, replyStartFrame(reply.start, reply.text));
    room.epoch = epoch;
    room.lastN = snapshot.n;
    room.lastEntry = snapshot.last ?? room.lastEntry;
  }

  #drain(room: LocalRoom): void {
    while (!room.syncing && room.buffer.length > 0) {
      const notes = room.buffer.sort((a, b) => a.n - b.n);
      room.buffer = [];
      for (let i = 0; i < notes.length; i++) {
        if (!this.#apply(room, notes[i]!)) {
          room.buffer.push(...notes.slice(i + 1));
          break;
        }
      }
    }
  }

  /** The room's stream is not the one this instance delivered from: cut everyone, read afresh. */
  #restart(room: LocalRoom): void {
    this.#endAll(room);
    room.epoch = undefined;
    room.lastN = -1;
    room.lastEntry = "0-0";
    room.buffer = [];
    this.#forget(room);
    if (this.#rooms.get(room.name) === room) void this.#resync(room);
  }

  /** Marks the room's history as not complete, for every instance's pages (best effort: a later read retries nothing). */
  #markLost(room: LocalRoom): void {
    this.#run(MARK_LOST_SCRIPT, room.keys, [String(this.#roomTtlMs)]).catch((error: unknown) => {
      if (!(error instanceof HubUnavailableError) && !(error instanceof HubClosedError)) this.#onError(error);
    });
  }

  #forgetPeople(room: LocalRoom): void {
    for (const who of room.people.values()) room.roster.remove(who);
    room.people.clear();
  }

  // Ends every subscriber (each client reconnects with its cursor and gets `reset` or exactly
  // what it missed) and every pending join.
  #endAll(room: LocalRoom): void {
    const subscriptions = [...room.subscribers];
    room.subscribers.clear();
    this.#forgetPeople(room);
    this.#subscribers -= subscriptions.length;
    for (const subscription of subscriptions) subscription.end();
    for (const join of room.joins) join.finish(MemorySubscription.ended());
    room.joins.clear();
    if (subscriptions.length > 0) this.#presenceChanged(room);
  }

  // --- presence, leases, reaping ---------------------------------------------------------------

  #presenceChanged(room: LocalRoom): void {
    room.presence.changed();
    this.#tell(room);
  }

  #tell(room: LocalRoom): void {
    const subscribers = room.total;
    if (subscribers === room.told) return;
    room.told = subscribers;
    const event: PresenceEvent = { type: "presence", room: room.name, subscribers };
    tellPresence(this.#listeners, event, this.#onError);
  }

  async #sync(): Promise<void> {
    if (this.#closed || !this.#redis.ready) return;
    await Promise.all([...this.#rooms.values()].map((room) => this.#syncRoom(room)));
  }

  /** One room's tick: our entry written, the others' counts and people read; presence told if they changed. */
  async #syncRoom(room: LocalRoom): Promise<void> {
    try {
      const { others, people } = await this.#tickRoom(room, room.subscribers.size);
      if (this.#rooms.get(room.name) !== room) return;
      const otherUsers = mergeUsers(people.map(readPeople));
      const otherUsersJson = JSON.stringify(otherUsers);
      if (others === room.others && otherUsersJson === room.otherUsersJson) return;
      room.others = others;
      room.otherUsers = otherUsers;
      room.otherUsersJson = otherUsersJson;
      room.presence.changed();
      this.#tell(room);
    } catch (error) {
      if (!(error instanceof HubUnavailableError) && !(error instanceof HubClosedError)) this.#onError(error);
    }
  }

  /** Another instance's entry changed: read the room's presence now. One read at a time per room, then one more if asked meanwhile. */
  #refresh(room: LocalRoom): void {
    if (room.refreshing) {
      room.refreshAgain = true;
      return;
    }
    room.refreshing = true;
    void this.#syncRoom(room).finally(() => {
      room.refreshing = false;
      if (!room.refreshAgain || this.#closed || this.#rooms.get(room.name) !== room) return;
      room.refreshAgain = false;
      this.#refresh(room);
    });
  }

  async #tickRoom(room: LocalRoom, count: number): Promise<{ others: number; people: string[] }> {
    const users = count > 0 ? peopleJson(room.roster.list()) : "";
    const changed = count !== room.sentCount || users !== room.sentUsers;
    // Unchanged people are not sent again: `=` asks the script to keep (and check) what it has.
    const arg = users !== "" && users === room.sentUsers ? "=" : users;
    // Recorded before the call: a tick and a presence read may overlap, and Redis applies them in
    // the order they were sent, so the next call must compare with this one's, not the last answered.
    room.sentCount = count;
    room.sentUsers = users;
    let reply: { others: number; people: string[]; missing: boolean };
    try {
      reply = await this.#tickScript(room, count, arg, changed);
    } catch (error) {
      // Unknown whether Redis has it: the next tick writes everything again.
      room.sentCount = -1;
      room.sentUsers = undefined;
      throw error;
    }
    // Redis lost our people (a restart): written again at once, not a tick later.
    if (reply.missing) return this.#tickScript(room, count, users, true);
    return reply;
  }

  async #tickScript(
    room: LocalRoom,
    count: number,
    users: string,
    changed: boolean,
  ): Promise<{ others: number; people: string[]; missing: boolean }> {
    const own: string[] = [];
    for (const [replyId, name] of this.#ownReplies) if (name === room.name) own.push(replyId);
    const reply = await this.#run(TICK_SCRIPT, room.keys, [
      this.#instanceId,
      String(count),
      String(this.#syncIntervalMs * 3),
      String(this.#roomTtlMs),
      own.join(","),
      String(this.#replyLeaseMs),
      REAPED_NOTE,
      new Date().toISOString(),
      String(this.#historySize),
      room.channel,
      newEpoch(),
      room.name,
      users,
      changed ? "1" : "",
      REAPED_NOTE_KO,
    ]);
    const [others, , people, missing] = reply as [number, number, string[], number];
    return { others: Number(others), people, missing: Number(missing) === 1 };
  }

  async #roomInfos(names: readonly string[]): Promise<(RoomInfo | undefined)[]> {
    return Promise.all(
      names.map(async (name) => {
        const keys = roomKeys(this.#prefix, name);
        const [count, presence] = (await Promise.all([
          this.#command(["HGET", keys[1]!, "count"]),
          this.#command(["HVALS", keys[3]!]),
        ])) as [string | null, string[]];
        const local = this.#rooms.get(name);
        if (count === null && local === undefined) return undefined;
        let subscribers = local?.subscribers.size ?? 0;
        const now = Date.now();
        // Other instances' fields are `<count>:<expires>`; ours is replaced by the live count.
        if (local !== undefined) subscribers += local.others;
        else for (const value of presence) subscribers += liveCount(value, now);
        return { room: name, subscribers, messages: Number(count ?? 0) };
      }),
    );
  }

  // --- Redis -----------------------------------------------------------------------------------

  async #snapshot(
    room: LocalRoom,
    mode: "after" | "latest",
    epoch: string,
    entry: string,
    count: number,
  ): Promise<Snapshot> {
    return decodeSnapshot(await this.#run(SNAPSHOT_SCRIPT, room.keys, [mode, epoch, entry, String(count)]));
  }

  /** Runs a script by its SHA-1, loading it once per Redis (again after a restart emptied its cache). */
  async #run(script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    let sha = this.#scripts.get(script);
    if (sha === undefined) {
      sha = (await this.#command(["SCRIPT", "LOAD", script])) as string;
      this.#scripts.set(script, sha);
    }
    try {
      return await this.#command(["EVALSHA", sha, String(keys.length), ...keys, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith("NOSCRIPT")) throw error;
      return this.#command(["EVAL", script, String(keys.length), ...keys, ...args]);
    }
  }

  async #command(args: readonly string[]): Promise<unknown> {
    try {
      return await this.#redis.command(args);
    } catch (error) {
      throw this.#unavailable(error);
    }
  }

  #unavailable(error: unknown): unknown {
    if (error instanceof HubUnavailableError || error instanceof RoomLimitError) return error;
    if (this.#closed) return new HubClosedError();
    // A script error (a bug) is not an outage: it propagates as it is.
    if (error instanceof Error && /^(ERR|WRONGTYPE|NOSCRIPT)\b/.test(error.message)) return error;
    return new HubUnavailableError(UNREACHABLE, error);
  }

  #assertOpen(): void {
    if (this.#closed) throw new HubClosedError();
  }
}

/** `promise`, or a {@link HubUnavailableError} after `ms`. */
async function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HubUnavailableError(UNREACHABLE)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  checkNumber(value, "a positive safe integer", "Cannot create hub", name);
  return value;
}

/** A fresh epoch: base-36 time plus randomness, so two instances creating a room never agree by chance. */
function newEpoch(): string {
  const random = crypto.getRandomValues(new Uint32Array(1))[0]!.toString(36);
  return `${Date.now().toString(36)}${random}`;
}

function toMessage(epoch: string, entry: string, d: string): ChatMessage {
  const stored = JSON.parse(d) as ChatMessage;
  return chatMessage(`${epoch}-${entry}`, stored.room, stored);
}

function messageFrame(epoch: string, entry: string, d: string): EventMessage {
  return encodeRoomEvent({ type: "message", message: toMessage(epoch, entry, d) });
}

function replyStartFrame(start: string, text: string): EventMessage {
  return encodeRoomEvent({ ...(JSON.parse(start) as ReplyStartEvent), text });
}

function parseNote(message: string): Note {
  const a = message.indexOf(" ", 2);
  const b = message.indexOf(" ", a + 1);
  const n = Number(message.slice(2, a));
  const epoch = message.slice(a + 1, b);
  if (message.startsWith("m ")) {
    const c = message.indexOf(" ", b + 1);
    const entry = message.slice(b + 1, c);
    return { n, epoch, entry, frame: messageFrame(epoch, entry, message.slice(c + 1)) };
  }
  if (message.startsWith("e ")) {
    const event = JSON.parse(message.slice(b + 1)) as ReplyEvent;
    return { n, epoch, entry: undefined, frame: encodeRoomEvent(event) };
  }
  throw new TypeError(`Cannot read room notification: unknown kind in ${JSON.stringify(message.slice(0, 40))}`);
}

/** This instance's people as its presence entry stores them: `[[userId, user], ...]` ('' for none). */
function peopleJson(users: readonly PresenceUser[]): string {
  return users.length === 0 ? "" : JSON.stringify(users.map(({ userId, user }) => [userId, user]));
}

/** Another instance's people, from its entry; anything malformed (another version, a bug) counts as none. */
function readPeople(json: string): PresenceUser[] {
  let pairs: unknown;
  try {
    pairs = JSON.parse(json);
  } catch {
    return [];
  }
  if (!Array.isArray(pairs)) return [];
  const users: PresenceUser[] = [];
  for (const pair of pairs.slice(0, MAX_PRESENCE_USERS)) {
    if (!Array.isArray(pair)) continue;
    const [userId, user] = pair as unknown[];
    if (typeof userId === "string" && typeof user === "string") users.push({ userId, user });
  }
  return users;
}

function decodeSnapshot(reply: unknown): Snapshot {
  const [epoch, n, status, first, last, entries, replies] = reply as [
    string | null,
    number,
    Snapshot["status"],
    string | null,
    string | null,
    [string, string[]][],
    [string, string][],
  ];
  return {
    epoch: epoch ?? undefined,
    n: Number(n),
    status,
    first: first ?? undefined,
    last: last ?? undefined,
    entries: decodeEntries(entries),
    replies: replies.map(([start, text]) => ({ start, text })),
  };
}

/** Stream entries as XRANGE returns them: `[id, [field, value, ...]]`. */
function decodeEntries(entries: readonly [string, string[]][]): { id: string; d: string; n: number }[] {
  return entries.map(([id, fields]) => {
    let d = "{}";
    let seq = 0;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      if (fields[i] === "d") d = fields[i + 1]!;
      else if (fields[i] === "n") seq = Number(fields[i + 1]);
    }
    return { id, d, n: seq };
  });
}

/** Orders two stream entry ids (`<ms>-<seq>`). */
function compareEntries(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am - bm || as - bs;
}

function liveCount(value: string, now: number): number {
  const [count, expires] = value.split(":").map(Number);
  return count !== undefined && expires !== undefined && expires >= now ? count : 0;
}
