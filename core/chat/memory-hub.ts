/**
 * The in-memory {@link Hub}: one server instance, rooms in a `Map`, a bounded history ring per room, a
 * bounded queue per subscriber.
 *
 * - Ids are `<epoch>-<seq>`. The epoch names one life of a room in one hub instance (the hub's
 *   base-36 start time, `.`, the room's base-36 creation number), so a cursor from a restarted
 *   server or from an evicted-then-recreated room is recognised as unknown instead of silently
 *   skipping or repeating messages. `seq` counts up from 1, without gaps, per room life.
 * - A published message is encoded once: one immutable `EncodedEvent` (`{ id, data }`, `data`
 *   the message's JSON, plus its SSE frame) is built at publish time and the same object goes to
 *   every subscriber and into the history; the streams send its frame as it is.
 * - A subscriber whose queue reaches `queueLimit` is dropped: its iterator ends, so its stream
 *   closes and the client reconnects with Last-Event-ID, resuming without loss while the ring
 *   still holds its cursor. Dropping bounds the memory a slow reader can pin.
 * - With `maxRooms` rooms, creating another evicts the least recently active room that has no
 *   subscribers and no running reply; if there is none, it fails with {@link RoomLimitError}. The
 *   names of the last 10 000 evicted rooms are remembered, so a page of a room created again says
 *   its history is not `complete`.
 * - `typing` events go to the room's subscribers as they are, at most one per person per 2 s, and
 *   are never stored.
 *
 * @module
 */
import type { EncodedEvent, EventMessage } from "../mod.ts";
import {
  type ChatMessage,
  type HistoryPage,
  type Hub,
  HubClosedError,
  type HubStats,
  KeyReusedError,
  type MessageInput,
  type PageOptions,
  type Person,
  type PresenceEvent,
  PUBLISH_KEY_TTL_MS,
  type PublishedOnce,
  type ReplyEvent,
  type ReplyStartEvent,
  type RoomInfo,
  RoomLimitError,
  type SubscribeOptions,
  type Subscription,
} from "./hub.ts";
import { checkNumber } from "./_check.ts";
import { broadcast, chatMessage, messageFingerprint, pageRequest, tellPresence } from "./_hub-parts.ts";
import { PresenceGate } from "./_presence.ts";
import { Ring } from "./_ring.ts";
import { Roster } from "./_roster.ts";
import { MemorySubscription } from "./_subscription.ts";
import { TYPING_INTERVAL_MS, TypingThrottle } from "./_typing.ts";
import { type ChatNumericOptions, readOption } from "./options.ts";
import { encodeRoomEvent } from "./wire.ts";

/**
 * Options of {@link createMemoryHub}.
 *
 * @example
 * ```ts
 * import type { MemoryHubOptions } from "./memory-hub.ts";
 * const options: MemoryHubOptions = { historySize: 200, queueLimit: 256, maxRooms: 1_000 };
 * ```
 */
export type MemoryHubOptions = Pick<
  ChatNumericOptions,
  "historySize" | "historyBytes" | "replayCount" | "queueLimit" | "maxRooms" | "presenceIntervalMs"
> & {
  /** The id epoch prefix; default the hub's start time in base 36. Must not contain `-` or a line break. */
  epoch?: string;
  /** Receives an error thrown by an `onPresence` listener. Default `console.error`. */
  onError?(error: unknown): void;
  /** The shortest time between two `typing` events of one person in one room. Default 2000 ms (the protocol's). */
  typingIntervalMs?: number;
};

const CURSOR = /^(.+)-(0|[1-9]\d{0,14})$/;
/** Names of evicted rooms remembered (for `complete`): a bound, not a promise. */
const MAX_TOMBSTONES = 10_000;
/** `publishOnce` keys remembered at most, over every room (about 150 bytes each). */
const PUBLISH_KEYS = 100_000;

/**
 * Creates an in-memory hub.
 *
 * @param options `historySize`, `replayCount`, `queueLimit`, `maxRooms`, `epoch`, `onError`.
 * @returns A {@link Hub} held in this instance's memory.
 * @throws {RangeError} If a size option is not a positive safe integer.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * const hub = createMemoryHub({ historySize: 100 });
 * const subscription = await hub.subscribe("lobby", { replay: 10 });
 * await hub.publish("lobby", { user: "alice", text: "hello", time: new Date().toISOString() });
 * ```
 */
export function createMemoryHub(options: MemoryHubOptions = {}): Hub {
  return new MemoryHub(options);
}

type RunningReply = { readonly start: ReplyStartEvent; text: string };

class Room {
  seq = 0;
  /** Each message as its frame only: its `data` is the message's JSON, its bytes what is sent. */
  readonly ring: Ring<EncodedEvent>;
  readonly subscribers = new Set<MemorySubscription<Room>>();
  /** Who each named subscriber is; the roster lists them in `presence`. */
  readonly people = new Map<MemorySubscription<Room>, Person>();
  readonly roster = new Roster();
  readonly replies = new Map<string, RunningReply>();
  /** Rate-limits this room's presence events (see `presenceIntervalMs`). */
  readonly presence: PresenceGate;

  readonly name: string;
  readonly epoch: string;
  /** An earlier life of the room was evicted: its messages are gone, the history is not complete. */
  readonly previousLife: boolean;

  constructor(
    name: string,
    epoch: string,
    historySize: number,
    presence: (room: Room) => PresenceGate,
    previousLife: boolean,
  ) {
    this.name = name;
    this.epoch = epoch;
    this.previousLife = previousLife;
    this.ring = new Ring(historySize);
    this.presence = presence(this);
  }

  info(): RoomInfo {
    return { room: this.name, subscribers: this.subscribers.size, messages: this.seq };
  }
}

class MemoryHub implements Hub {
  readonly #rooms = new Map<string, Room>();
  /** `publishOnce` keys (room and key) and what they stored, oldest first; at most `PUBLISH_KEYS`. */
  readonly #keys = new Map<string, { id: string; time: string; fingerprint: string; expires: number }>();
  // Rooms without subscribers, least recently active first (a Map keeps insertion order, and
  // delete + set moves a room to the end): eviction takes the first evictable one in O(1) usually.
  readonly #idle = new Map<string, Room>();
  readonly #listeners = new Set<(event: PresenceEvent) => void>();
  /** Evicted rooms' names, oldest first (bounded by {@link MAX_TOMBSTONES}). */
  readonly #tombstones = new Set<string>();
  readonly #typing: TypingThrottle;
  readonly #historySize: number;
  readonly #historyBytes: number;
  /** Bytes the rings hold, by {@link retainedCost}. */
  #retained = 0;
  /**
   * Every stored message in publish order, server-wide: the budget drops from its front. An entry
   * whose message its ring already let go (the per-room bound, an evicted room) is skipped, and
   * the list is compacted once those outnumber the live ones.
   */
  #order: { room: Room; frame: EncodedEvent }[] = [];
  #orderHead = 0;
  /** The frames still held by a ring (and so still counted in `#retained`). */
  readonly #held = new WeakSet<EncodedEvent>();
  #heldCount = 0;
  readonly #replayCount: number;
  readonly #queueLimit: number;
  readonly #maxRooms: number;
  readonly #presenceIntervalMs: number;
  readonly #epoch: string;
  readonly #onError: (error: unknown) => void;
  readonly #onLeave = (subscription: MemorySubscription<Room>) => this.#leave(subscription.tag, subscription);
  readonly #gate = (room: Room) =>
    new PresenceGate(
      this.#presenceIntervalMs,
      () => room.subscribers.size,
      (subscribers) =>
        this.#broadcast(
          room,
          encodeRoomEvent({ type: "presence", room: room.name, subscribers, users: room.roster.list() }),
        ),
    );
  #created = 0;
  #subscribers = 0;
  #closed = false;

  constructor(options: MemoryHubOptions) {
    const action = "Cannot create hub";
    this.#historySize = readOption(options, "historySize", action);
    this.#historyBytes = readOption(options, "historyBytes", action);
    this.#replayCount = Math.min(readOption(options, "replayCount", action), this.#historySize);
    this.#queueLimit = readOption(options, "queueLimit", action);
    this.#maxRooms = readOption(options, "maxRooms", action);
    this.#presenceIntervalMs = readOption(options, "presenceIntervalMs", action);
    this.#epoch = options.epoch ?? Date.now().toString(36);
    if (/[-\r\n\0]/.test(this.#epoch) || this.#epoch === "") {
      throw new RangeError(
        `Cannot create hub: "epoch" must be non-empty without "-", CR, LF or NUL, received ${JSON.stringify(this.#epoch)}`,
      );
    }
    this.#onError = options.onError ?? ((error) => console.error("eddy: presence listener failed:", error));
    const typingIntervalMs =
      options.typingIntervalMs === undefined
        ? TYPING_INTERVAL_MS
        : checkNumber(options.typingIntervalMs, "a non-negative finite number", action, "typingIntervalMs");
    this.#typing = new TypingThrottle(typingIntervalMs);
  }

  async publish(name: string, input: MessageInput): Promise<ChatMessage> {
    this.#assertOpen();
    return this.#store(name, input);
  }

  #store(name: string, input: MessageInput): ChatMessage {
    const room = this.#roomFor(name);
    const id = `${room.epoch}-${++room.seq}`;
    // Key order is the wire order documented in PROTOCOL.md.
    const message = chatMessage(id, name, input);
    const frame = encodeRoomEvent({ type: "message", message });
    this.#retain(room, frame);
    if (input.replyId !== undefined) room.replies.delete(input.replyId);
    this.#touch(room);
    this.#broadcast(room, frame);
    return message;
  }

  async publishOnce(name: string, input: MessageInput, key: string): Promise<PublishedOnce> {
    this.#assertOpen();
    const scoped = `${name}\u0000${key}`;
    const fingerprint = messageFingerprint(input);
    const now = Date.now();
    const seen = this.#keys.get(scoped);
    if (seen !== undefined && seen.expires > now) {
      if (seen.fingerprint !== fingerprint) throw new KeyReusedError();
      return { message: chatMessage(seen.id, name, { ...input, time: seen.time }), replayed: true };
    }
    const message = this.#store(name, input); // no await before the key is set: racers see it
    // Oldest first: past the bound, the oldest key goes (a retry that late stores again).
    this.#keys.delete(scoped);
    if (this.#keys.size >= PUBLISH_KEYS) this.#keys.delete(this.#keys.keys().next().value!);
    this.#keys.set(scoped, { id: message.id, time: message.time, fingerprint, expires: now + PUBLISH_KEY_TTL_MS });
    return { message, replayed: false };
  }

  async emit(name: string, event: ReplyEvent): Promise<void> {
    this.#assertOpen();
    const room = this.#rooms.get(name);
    if (room === undefined) return;
    if (event.type === "reply-start") {
      room.replies.set(event.replyId, { start: event, text: event.text });
      this.#broadcast(room, encodeRoomEvent(event));
    } else {
      const running = room.replies.get(event.replyId);
      // A delta without its start (or after the final message) would reach no bubble: drop it.
      if (running === undefined) return;
      running.text += event.delta;
      this.#broadcast(room, encodeRoomEvent(event));
    }
    this.#touch(room);
  }

  async subscribe(name: string, options: SubscribeOptions = {}): Promise<Subscription> {
    this.#assertOpen();
    const { signal } = options;
    if (options.replay !== undefined)
      checkNumber(options.replay, "a non-negative safe integer", "Cannot subscribe", "replay");
    if (signal?.aborted) return MemorySubscription.ended();
    const room = this.#roomFor(name);
    const backlog = this.#backlog(room, options);
    const subscription = new MemorySubscription(backlog, this.#queueLimit, this.#onLeave, signal, room);
    room.subscribers.add(subscription);
    if (options.who !== undefined) {
      // Copied: the caller's object could change under the roster, which must remove what it added.
      const who: Person = { userId: options.who.userId, user: options.who.user };
      room.people.set(subscription, who);
      room.roster.add(who);
    }
    this.#idle.delete(room.name);
    this.#subscribers++;
    this.#presence(room);
    return subscription;
  }

  async history(name: string, limit: number): Promise<ChatMessage[]> {
    const room = this.#rooms.get(name);
    if (room === undefined) return [];
    return room.ring.latest(limit).map((frame) => JSON.parse(frame.data!) as ChatMessage);
  }

  async page(name: string, options: PageOptions): Promise<HistoryPage> {
    this.#assertOpen();
    const { limit, cursor } = pageRequest(options, CURSOR);
    const room = this.#rooms.get(name);
    if (room === undefined) {
      return { messages: [], hasMore: false, complete: !this.#tombstones.has(name), oldestId: null };
    }
    const oldestSeq = room.seq - room.ring.length + 1;
    // Seq 1 still held (or nothing stored yet) in a room with no earlier life: nothing was dropped.
    const complete = !room.previousLife && oldestSeq <= 1;
    const oldestId = room.ring.oldest()?.id ?? null;
    const empty: HistoryPage = { messages: [], hasMore: false, complete, oldestId };
    // Another life of this room (or another room, or another server start): nothing of it is here.
    if (cursor !== null && cursor[1] !== room.epoch) return empty;
    const newest = cursor === null ? room.seq : Math.min(Number(cursor[2]) - 1, room.seq);
    if (newest < oldestSeq) return empty;
    const first = Math.max(oldestSeq, newest - limit + 1);
    const frames = room.ring.latest(room.seq - first + 1).slice(0, newest - first + 1);
    const messages = frames.map((frame) => JSON.parse(frame.data!) as ChatMessage);
    return { messages, hasMore: first > oldestSeq, complete, oldestId };
  }

  async typing(name: string, who: Person): Promise<boolean> {
    this.#assertOpen();
    const room = this.#rooms.get(name);
    // Nobody to tell: no event, and no throttle entry a flood of unknown rooms could grow.
    if (room === undefined || room.subscribers.size === 0) return false;
    if (!this.#typing.take(name, who.userId)) return false;
    this.#broadcast(room, encodeRoomEvent({ type: "typing", room: name, user: who.user, userId: who.userId }));
    return true;
  }

  async room(name: string): Promise<RoomInfo | undefined> {
    return this.#rooms.get(name)?.info();
  }

  async rooms(): Promise<RoomInfo[]> {
    return Array.from(this.#rooms.values(), (room) => room.info());
  }

  async stats(): Promise<HubStats> {
    return { rooms: this.#rooms.size, subscribers: this.#subscribers, retainedBytes: this.#retained };
  }

  onPresence(listener: (event: PresenceEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const room of this.#rooms.values()) {
      room.presence.stop();
      for (const subscription of room.subscribers) subscription.end();
      room.subscribers.clear();
      room.people.clear();
    }
    this.#rooms.clear();
    this.#idle.clear();
    this.#tombstones.clear();
    this.#typing.clear();
    this.#listeners.clear();
    this.#subscribers = 0;
    this.#order = [];
    this.#orderHead = 0;
    this.#retained = 0;
  }

  #assertOpen(): void {
    if (this.#closed) throw new HubClosedError();
  }

  #roomFor(name: string): Room {
    const existing = this.#rooms.get(name);
    if (existing !== undefined) return existing;
    if (this.#rooms.size >= this.#maxRooms) this.#evict();
    const epoch = `${this.#epoch}.${(++this.#created).toString(36)}`;
    const room = new Room(name, epoch, this.#historySize, this.#gate, this.#tombstones.delete(name));
    this.#rooms.set(name, room);
    this.#idle.set(name, room);
    return room;
  }

  #evict(): void {
    for (const room of this.#idle.values()) {
      // A room whose reply is still being written keeps its state: the final message lands there.
      if (room.replies.size > 0) continue;
      this.#idle.delete(room.name);
      this.#rooms.delete(room.name);
      room.presence.stop();
      // Remembered only if something of it is lost: a room that never stored a message loses nothing.
      if (room.seq > 0 || room.previousLife) {
        this.#tombstones.add(room.name);
        if (this.#tombstones.size > MAX_TOMBSTONES) this.#tombstones.delete(this.#tombstones.values().next().value!);
      }
      for (let frame = room.ring.shift(); frame !== undefined; frame = room.ring.shift()) this.#release(frame);
      return;
    }
    throw new RoomLimitError(this.#maxRooms);
  }

  /** Stores a message in its room's ring, within the room's bound and the server's byte budget. */
  #retain(room: Room, frame: EncodedEvent): void {
    const dropped = room.ring.add(frame);
    if (dropped !== undefined) this.#release(dropped);
    this.#retained += retainedCost(frame);
    this.#held.add(frame);
    this.#heldCount++;
    this.#order.push({ room, frame });
    // Over budget: the oldest messages of the whole server go first, whatever their room.
    while (this.#retained > this.#historyBytes && this.#orderHead < this.#order.length) {
      const { room: owner, frame: oldest } = this.#order[this.#orderHead]!;
      this.#order[this.#orderHead++] = undefined as never;
      // Still held means it is its room's oldest: each room's entries are in publish order too.
      if (!this.#held.has(oldest)) continue;
      owner.ring.shift();
      this.#release(oldest);
    }
    if (this.#orderHead > 1024 && this.#orderHead > this.#order.length / 2) this.#compact();
    else if (this.#order.length - this.#orderHead > 2 * this.#heldCount + 1024) this.#compact();
  }

  #release(frame: EncodedEvent): void {
    if (!this.#held.delete(frame)) return;
    this.#retained -= retainedCost(frame);
    this.#heldCount--;
  }

  // Keeps the order list proportional to what is retained (each entry at most once more).
  #compact(): void {
    this.#order = this.#order.slice(this.#orderHead).filter(({ frame }) => this.#held.has(frame));
    this.#orderHead = 0;
  }

  // Marks a room as just active: it moves to the back of the eviction order.
  #touch(room: Room): void {
    if (this.#idle.delete(room.name)) this.#idle.set(room.name, room);
  }

  #broadcast(room: Room, frame: EventMessage): void {
    broadcast(room.subscribers, frame, (subscription) => this.#leave(room, subscription));
  }

  #leave(room: Room, subscription: MemorySubscription<Room>): void {
    if (!room.subscribers.delete(subscription)) return;
    const who = room.people.get(subscription);
    if (who !== undefined) {
      room.people.delete(subscription);
      room.roster.remove(who);
    }
    this.#subscribers--;
    if (room.subscribers.size === 0 && this.#rooms.get(room.name) === room) this.#idle.set(room.name, room);
    this.#presence(room);
  }

  #presence(room: Room): void {
    const subscribers = room.subscribers.size;
    room.presence.changed();
    // Listeners (the reply runner stops replies in an emptied room) hear every change at once.
    const event: PresenceEvent = { type: "presence", room: room.name, subscribers };
    tellPresence(this.#listeners, event, this.#onError);
  }

  // What a new subscriber receives before live events: the reset (if any), the replayed messages,
  // then each running reply so far. Built in the same synchronous step that registers it, so no
  // live event can fall between the snapshot and the subscription.
  #backlog(room: Room, { after, replay }: SubscribeOptions): EventMessage[] {
    const items: EventMessage[] = [];
    if (after === undefined) {
      const count = Math.min(replay ?? this.#replayCount, this.#historySize);
      for (const frame of room.ring.latest(count)) items.push(frame);
    } else {
      const oldestSeq = room.seq - room.ring.length + 1;
      const match = CURSOR.exec(after);
      const seq = match === null ? Number.NaN : Number(match[2]);
      const sameLife = match !== null && match[1] === room.epoch && seq <= room.seq;
      if (sameLife && seq >= oldestSeq - 1) {
        // Gap-free resume: exactly the messages after the cursor.
        for (const frame of room.ring.latest(room.seq - seq)) items.push(frame);
      } else {
        const oldest = room.ring.latest(room.ring.length)[0];
        const reason = sameLife ? "history-truncated" : "unknown-cursor";
        items.push(encodeRoomEvent({ type: "reset", reason, lastEventId: after, oldestId: oldest?.id ?? null }));
        for (const frame of room.ring.latest(room.ring.length)) items.push(frame);
      }
    }
    for (const running of room.replies.values()) items.push(encodeRoomEvent({ ...running.start, text: running.text }));
    return items;
  }
}

/**
 * Per stored message, besides its frame's bytes: the frame object with its id and buffer, its
 * ring slot, its order entry.
 */
const ENTRY_OVERHEAD = 240;

/**
 * What a stored message costs in memory, as the byte budget counts it: its frame's UTF-8 bytes
 * (the only copy of its text: message frames keep no `data` string, see `wire.ts`) and a fixed
 * overhead.
 */
function retainedCost(frame: EncodedEvent): number {
  return frame.bytes.byteLength + ENTRY_OVERHEAD;
}
