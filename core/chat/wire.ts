/**
 * The chat's wire format, in one place: each room event becomes its SSE frame here, encoded to
 * bytes once, and that one {@link EncodedEvent} goes to every subscriber and into the history.
 * A hub (in memory, or on Redis) speaks room events and never builds SSE itself. The event
 * names and JSON shapes are the contract of `docs/PROTOCOL.md`.
 *
 * @module
 */
import { EncodedEvent } from "../mod.ts";
import type { ChatMessage, PresenceEvent, ReplyDeltaEvent, ReplyStartEvent } from "./hub.ts";

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
  | ReplyDeltaEvent;

const FRAME_ONLY = { keepData: false } as const;

/** Longest cursor echoed back in a `reset` event. */
const MAX_ECHOED_CURSOR = 128;

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
 * console.log(frame.frame); // 'event: presence\ndata: {"room":"lobby","subscribers":3}\n\n'
 * ```
 */
export function encodeRoomEvent(event: RoomEvent): EncodedEvent {
  switch (event.type) {
    case "message":
      // Frame only: a history holds each message once, as the bytes it sends (`data` reads back).
      return new EncodedEvent({ id: event.message.id, data: JSON.stringify(event.message) }, FRAME_ONLY);
    case "presence":
      return named("presence", { room: event.room, subscribers: event.subscribers });
    case "reset":
      return named("reset", {
        reason: event.reason,
        lastEventId: event.lastEventId.slice(0, MAX_ECHOED_CURSOR),
        oldestId: event.oldestId,
      });
    case "reply-start": {
      const { replyId, room, user, inReplyTo, time, text } = event;
      return named("reply-start", { replyId, room, user, inReplyTo, time, text });
    }
    case "reply-delta":
      return named("reply-delta", { replyId: event.replyId, delta: event.delta });
  }
}

function named(event: string, payload: object): EncodedEvent {
  return new EncodedEvent({ event, data: JSON.stringify(payload) });
}
