/**
 * The chat server's numeric options, each defined once: its kind (and so its validation), its
 * default, its help text and, for those the server program exposes, its flag and environment
 * variable. `createChatApp`, the in-memory hub and the bot read their defaults and checks from
 * here; the program (`cli/`) derives its flags, `--help` and parsing from the same table. A new
 * option is one entry here plus the line of code that uses it.
 *
 * @module
 */
import { checkNumber, type NumberKind } from "./_check.ts";

/**
 * How one numeric option is described.
 *
 * @example
 * ```ts
 * import type { NumericOption } from "./mod.ts";
 * const option: NumericOption = { kind: "a positive safe integer", default: 8, help: "rooms per user" };
 * ```
 */
export type NumericOption = {
  /** What a valid value is (`RangeError` otherwise). */
  readonly kind: NumberKind;
  /** The value when the option is absent. */
  readonly default: number;
  /** One line for `--help`. */
  readonly help: string;
  /** The server program's flag, without `--`; absent: not settable from the command line. */
  readonly flag?: string;
  /** The environment variable the flag falls back to. */
  readonly env?: string;
  /** The placeholder `--help` shows for the value. */
  readonly value?: "N" | "MS";
};

/**
 * Every numeric option of the chat server, in `--help` order.
 *
 * @example
 * ```ts
 * import { CHAT_OPTIONS } from "./mod.ts";
 * console.log(CHAT_OPTIONS.historySize.default, CHAT_OPTIONS.historySize.flag); // 500 "history"
 * ```
 */
export const CHAT_OPTIONS = {
  /** Messages kept per room (the resume window), also the `?history=` maximum. Default 500. */
  historySize: {
    kind: "a positive safe integer",
    default: 500,
    flag: "history",
    env: "EDDY_HISTORY",
    value: "N",
    help: "messages kept per room: how far back a client can resume",
  },
  /**
   * Bytes of message history the in-memory hub retains over all rooms together; past it, the
   * oldest messages of the whole server are dropped first (a cursor into them gets `reset`).
   * Default 256 MiB, sized for a small VM.
   */
  historyBytes: {
    kind: "a positive safe integer",
    default: 256 * 1024 * 1024,
    flag: "history-bytes",
    env: "EDDY_HISTORY_BYTES",
    value: "N",
    help: "bytes of history kept over all rooms; the oldest messages go first",
  },
  /** Messages replayed to a stream opened without a cursor or `?history=`. Default 50. */
  replayCount: {
    kind: "a non-negative safe integer",
    default: 50,
    flag: "replay",
    env: "EDDY_REPLAY",
    value: "N",
    help: "messages a new client gets when it has no Last-Event-ID",
  },
  /** Heartbeat comment interval on idle streams, in ms. Default 15 000. */
  heartbeatMs: {
    kind: "a positive finite number",
    default: 15_000,
    flag: "heartbeat",
    env: "EDDY_HEARTBEAT_MS",
    value: "MS",
    help: "milliseconds between heartbeat comments on an idle stream",
  },
  /** Events a subscriber may leave unread before its stream is cut as too slow. Default 1024. */
  queueLimit: {
    kind: "a positive safe integer",
    default: 1024,
    flag: "queue",
    env: "EDDY_QUEUE",
    value: "N",
    help: "events a subscriber may leave unread before it is cut off as too slow",
  },
  /**
   * Bytes a subscriber may leave unread before its stream is cut (the connection closed; it
   * resumes by Last-Event-ID). Default 256 KiB.
   */
  queueBytes: {
    kind: "a positive safe integer",
    default: 256 * 1024,
    flag: "queue-bytes",
    env: "EDDY_QUEUE_BYTES",
    value: "N",
    help: "bytes a subscriber may leave unread before it is cut off as too slow",
  },
  /** How long a subscriber may read nothing while events wait for it before its stream is cut, in ms. Default 30 000. */
  writeTimeoutMs: {
    kind: "a positive finite number",
    default: 30_000,
    flag: "write-timeout",
    env: "EDDY_WRITE_TIMEOUT_MS",
    value: "MS",
    help: "milliseconds a subscriber may read nothing while events wait before it is cut off",
  },
  /** Rooms held at once (in-memory hub). Default 10 000. */
  maxRooms: {
    kind: "a positive safe integer",
    default: 10_000,
    flag: "max-rooms",
    env: "EDDY_MAX_ROOMS",
    value: "N",
    help: "rooms kept at once",
  },
  /** The pause before each word of the built-in typewriter bot, in ms; `0` streams without timers. Default 40. */
  typewriterMs: {
    kind: "a non-negative finite number",
    default: 40,
    flag: "typewriter-ms",
    env: "EDDY_TYPEWRITER_MS",
    value: "MS",
    help: "milliseconds between the typewriter bot's words",
  },
  /** The longest a bot reply may run, from start to final message, in ms. Default 60 000. */
  replyTimeoutMs: { kind: "a positive finite number", default: 60_000, help: "the longest a bot reply may run" },
  /** Bot replies running at once per room; more are answered with a short "busy" note. Default 2. */
  maxRepliesPerRoom: { kind: "a positive safe integer", default: 2, help: "bot replies running at once per room" },
  /** Bot replies running at once on the whole server; more get the "busy" note. Default 32. */
  maxReplies: {
    kind: "a positive safe integer",
    default: 32,
    flag: "max-replies",
    env: "EDDY_MAX_REPLIES",
    value: "N",
    help: "bot replies running at once on the whole server",
  },
  /**
   * The shortest time between two `reply-delta` events of one reply, in ms: chunks that arrive
   * meanwhile go out together as one event. Default 50 (at most 20 events a second per reply,
   * whatever the responder's pace; the first chunk goes out at once).
   */
  replyDeltaMs: {
    kind: "a non-negative finite number",
    default: 50,
    help: "ms between two reply-delta events of one reply",
  },
  /** The longest bot reply, in UTF-16 code units (a surrogate pair is never split). Default 4000. */
  maxReplyChars: {
    kind: "a positive safe integer",
    default: 4000,
    help: "the longest bot reply, in UTF-16 code units",
  },
  /** Messages of room history given to the bot as context. Default 20. */
  replyContextSize: { kind: "a positive safe integer", default: 20, help: "messages of history the bot sees" },
  /**
   * The shortest time between two `presence` events of one room, in ms (in-memory hub). The
   * first change goes out at once; changes within the interval are folded into one event with
   * the latest count at its end, so N clients joining cost O(N) events, not O(N²). Big rooms
   * stretch it further (see the memory hub). Default 1000: a count a second is all a page shows,
   * and every presence event is a write to every subscriber of the room.
   */
  presenceIntervalMs: { kind: "a non-negative finite number", default: 1000, help: "ms between presence events" },
  /** Posts one client may send at once (then `postRate` per second). Default 200. */
  postBurst: {
    kind: "a positive safe integer",
    default: 200,
    flag: "post-burst",
    env: "EDDY_POST_BURST",
    value: "N",
    help: "posts one client may send at once before the steady rate applies",
  },
  /** Posts per second one client may keep sending after its burst. Default 10. */
  postRate: {
    kind: "a positive finite number",
    default: 10,
    flag: "post-rate",
    env: "EDDY_POST_RATE",
    value: "N",
    help: "posts per second one client may keep sending",
  },
  /** Event streams one client may open at once (then `streamRate` per second). Default 100. */
  streamBurst: {
    kind: "a positive safe integer",
    default: 100,
    flag: "stream-burst",
    env: "EDDY_STREAM_BURST",
    value: "N",
    help: "event streams one client may open at once",
  },
  /** Event streams per second one client may keep opening. Default 5. */
  streamRate: {
    kind: "a positive finite number",
    default: 5,
    flag: "stream-rate",
    env: "EDDY_STREAM_RATE",
    value: "N",
    help: "event streams per second one client may keep opening",
  },
  /**
   * Rooms one client may create at once (then `roomRate` per second), so that no client can
   * crowd everyone's rooms out of the room limit. Default 20.
   */
  roomBurst: {
    kind: "a positive safe integer",
    default: 20,
    flag: "room-burst",
    env: "EDDY_ROOM_BURST",
    value: "N",
    help: "rooms one client may create at once",
  },
  /** Rooms per second one client may keep creating. Default 0.1 (one every 10 s). */
  roomRate: {
    kind: "a positive finite number",
    default: 0.1,
    flag: "room-rate",
    env: "EDDY_ROOM_RATE",
    value: "N",
    help: "rooms per second one client may keep creating",
  },
  /**
   * Proxies in front of the server whose `X-Forwarded-For` entries are believed: the client is the
   * address that many hops from the right. Default 0: the connection's own address.
   */
  trustProxy: {
    kind: "a non-negative safe integer",
    default: 0,
    flag: "trust-proxy",
    env: "EDDY_TRUST_PROXY",
    value: "N",
    help: "proxies in front whose X-Forwarded-For is believed (0: none)",
  },
} as const satisfies Readonly<Record<string, NumericOption>>;

/** The name of a numeric option. */
export type ChatOptionName = keyof typeof CHAT_OPTIONS;

/**
 * Numeric options by name, each optional; the field documentation comes from {@link CHAT_OPTIONS}.
 *
 * @example
 * ```ts
 * import type { ChatNumericOptions } from "./mod.ts";
 * const limits: ChatNumericOptions = { historySize: 200, heartbeatMs: 10_000 };
 * ```
 */
export type ChatNumericOptions = { -readonly [Name in ChatOptionName]?: number };

/**
 * The value of one option: the given one if valid, the default if absent.
 *
 * @param options Where to read it.
 * @param name Which option.
 * @param action What the caller is doing, for the error message (e.g. `"Cannot create hub"`).
 * @returns The value.
 * @throws {RangeError} If the given value is not of the option's kind.
 *
 * @example
 * ```ts
 * import { readOption } from "./options.ts";
 * readOption({ historySize: 20 }, "historySize", "Cannot create hub"); // 20
 * readOption({}, "replayCount", "Cannot create hub"); // 50
 * ```
 */
export function readOption(options: ChatNumericOptions, name: ChatOptionName, action: string): number {
  const option: NumericOption = CHAT_OPTIONS[name];
  const value = options[name];
  return value === undefined ? option.default : checkNumber(value, option.kind, action, name);
}
