/**
 * The chat's wire format, in one place: each room event becomes its SSE frame here, encoded to
 * bytes once, and that one {@link EncodedEvent} goes to every subscriber and into the history.
 * A hub (in memory, or on Redis) speaks room events and never builds SSE itself. The event
 * names and JSON shapes are the contract of `docs/PROTOCOL.md`.
 *
 * @module
 */
import { defineEvents, EncodedEvent, type EventMessage, json } from "../mod.ts";
import type { ChatMessage, PresenceEvent, PresenceUser, ReplyDeltaEvent, ReplyStartEvent, TypingEvent } from "./hub.ts";

/**
 * A `reset` event: the client's cursor cannot be resumed from exactly, so it gets the whole
 * history after this event and should replace what it shows.
 *
 * @example
 * ```ts
 * import type { ResetEvent } from "./mod.ts";
 * const event: ResetEvent = { type: "reset", reason: "unknown-cursor", lastEventId: "x-1", oldestId: null };
 * ```
 */
export type ResetEvent = {
  readonly type: "reset";
  /** `history-truncated`: the cursor is older than the history; `unknown-cursor`: another server life. */
  readonly reason: "history-truncated" | "unknown-cursor";
  /** The cursor the client sent (cut to 128 characters: it is client-controlled). */
  readonly lastEventId: string;
  /** The oldest message id the history still holds, or `null` if it is empty. */
  readonly oldestId: string | null;
};

/**
 * Everything a room sends to its subscribers.
 *
 * @example
 * ```ts
 * import type { RoomEvent } from "./mod.ts";
 * const event: RoomEvent = { type: "presence", room: "lobby", subscribers: 2 };
 * ```
 */
export type RoomEvent =
  | { readonly type: "message"; readonly message: ChatMessage }
  | PresenceEvent
  | ResetEvent
  | ReplyStartEvent
  | ReplyDeltaEvent
  | TypingEvent;

/**
 * The JSON of a `presence` event as subscribers receive it: `users` is always there (`[]` when
 * nobody subscribed gave a name).
 *
 * @example
 * ```ts
 * import type { PresencePayload } from "./wire.ts";
 * const data: PresencePayload = { room: "lobby", subscribers: 2, users: [{ userId: "u1", user: "ann" }] };
 * ```
 */
export type PresencePayload = {
  readonly room: string;
  readonly subscribers: number;
  readonly users: readonly PresenceUser[];
};

/** Longest cursor echoed back in a `reset` event. */
const MAX_ECHOED_CURSOR = 128;

/**
 * The chat's event types, declared once: each name and its JSON payload. The server frames with
 * it ({@link encodeRoomEvent}); a client decodes with it (`CHAT_EVENTS.decode(event)`), so both
 * ends share one type per event. `message` is the default event type (no `event:` line).
 *
 * @example Read a room with typed events
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHAT_EVENTS } from "./mod.ts";
 * const data = '{"room":"lobby","subscribers":2,"users":[{"userId":"u1","user":"ann"}]}';
 * const event = CHAT_EVENTS.decode({ type: "presence", data, lastEventId: "" });
 * if (event?.type === "presence") assert.equal(event.data.users[0]?.user, "ann");
 * assert.deepEqual(CHAT_EVENTS.names, ["message", "presence", "reset", "reply-start", "reply-delta", "typing"]);
 * ```
 */
export const CHAT_EVENTS = defineEvents({
  /** A stored message; its `id` is also the event's `id:` (the resume cursor). */
  message: json<ChatMessage>(),
  /** How many subscribers the room has now, and the named people among them (at most 50, by name). */
  presence: json<PresencePayload>(),
  /** The cursor could not be resumed from exactly: the history follows, replace what you show. */
  reset: json<Omit<ResetEvent, "type">>(),
  /** The bot started a reply: a bubble with `text` so far. */
  "reply-start": json<Omit<ReplyStartEvent, "type">>(),
  /** More text for the reply `replyId`. */
  "reply-delta": json<Omit<ReplyDeltaEvent, "type">>(),
  /** Someone is typing (ephemeral: no id, never replayed; at most one per person per 2 s). */
  typing: json<Omit<TypingEvent, "type">>(),
});

const FRAME_ONLY = { keepData: false } as const;
const NO_USERS: readonly PresenceUser[] = Object.freeze([]);

/**
 * The SSE frame of a room event: a message has its id as `id:` (the resume cursor) and its JSON
 * as `data:`, under the default event type; the other events are named (`event: presence` ...)
 * and carry no id, so they never move a client's Last-Event-ID.
 *
 * @param event The room event.
 * @returns Its frame, encoded once (share it).
 *
 * @example
 * ```ts
 * import { encodeRoomEvent } from "./mod.ts";
 * const frame = encodeRoomEvent({ type: "presence", room: "lobby", subscribers: 3 });
 * console.log(frame.frame); // 'event: presence\ndata: {"room":"lobby","subscribers":3,"users":[]}\n\n'
 * ```
 */
export function encodeRoomEvent(event: RoomEvent): EncodedEvent {
  switch (event.type) {
    case "message": {
      const { message } = event;
      // Frame only: a history holds each message once, as the bytes it sends (`data` reads back).
      return new EncodedEvent(CHAT_EVENTS.encode("message", message, { id: message.id }), FRAME_ONLY);
    }
    case "presence": {
      const users = event.users === undefined ? NO_USERS : event.users.map(({ userId, user }) => ({ userId, user }));
      return framed(CHAT_EVENTS.encode("presence", { room: event.room, subscribers: event.subscribers, users }));
    }
    case "reset": {
      const { reason, oldestId } = event;
      const lastEventId = event.lastEventId.slice(0, MAX_ECHOED_CURSOR);
      return framed(CHAT_EVENTS.encode("reset", { reason, lastEventId, oldestId }));
    }
    case "reply-start": {
      const { replyId, room, user, inReplyTo, time, text } = event;
      return framed(CHAT_EVENTS.encode("reply-start", { replyId, room, user, inReplyTo, time, text }));
    }
    case "reply-delta":
      return framed(CHAT_EVENTS.encode("reply-delta", { replyId: event.replyId, delta: event.delta }));
    case "typing": {
      const { room, user, userId } = event;
      return framed(CHAT_EVENTS.encode("typing", { room, user, userId }));
    }
  }
}

function framed(message: EventMessage): EncodedEvent {
  return new EncodedEvent(message);
}
