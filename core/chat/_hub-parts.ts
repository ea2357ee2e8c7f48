/**
 * Private to the hubs: the pieces the in-memory and the Redis hub share, so the two behave alike
 * where they should — a message's fields in wire order, the fan-out loop over a room's
 * subscribers, and telling presence listeners.
 *
 * @module
 */
import type { EventMessage } from "../mod.ts";
import { checkNumber } from "./_check.ts";
import {
  type ChatMessage,
  InvalidCursorError,
  type MessageInput,
  type PageOptions,
  type PresenceEvent,
} from "./hub.ts";
import type { MemorySubscription } from "./_subscription.ts";

/**
 * A stored message, frozen, its keys in the wire order of `docs/PROTOCOL.md`.
 *
 * @example
 * ```ts
 * import { chatMessage } from "./_hub-parts.ts";
 * chatMessage("e-1", "lobby", { user: "ann", text: "hi", time: "2025-01-01T00:00:00.000Z" });
 * // { id: "e-1", room: "lobby", user: "ann", text: "hi", time: "2025-01-01T00:00:00.000Z" }
 * ```
 */
export function chatMessage(id: string, room: string, input: MessageInput): ChatMessage {
  return Object.freeze({
    id,
    room,
    user: input.user,
    ...(input.userId === undefined ? {} : { userId: input.userId }),
    text: input.text,
    time: input.time,
    ...(input.replyId === undefined ? {} : { replyId: input.replyId }),
    ...(input.error === true ? { error: true as const } : {}),
  });
}

/**
 * What `publishOnce` compares to tell a retry from a second message under one key: the name and
 * the text (FNV-1a, 32 bits: a check against a client's mistake, not against an attacker, who
 * could only confuse their own posts).
 *
 * @param input The message to store.
 * @returns Eight hex digits.
 *
 * @example
 * ```ts
 * import { messageFingerprint } from "./_hub-parts.ts";
 * const a = messageFingerprint({ user: "ann", text: "hi", time: "2025-01-01T00:00:00.000Z" });
 * const b = messageFingerprint({ user: "ann", text: "hi", time: "2025-01-01T00:00:09.000Z" });
 * console.log(a === b); // true: the time is the server's, not the message's
 * ```
 */
export function messageFingerprint(input: MessageInput): string {
  let hash = 0x811c9dc5;
  const text = `${input.user}\u0000${input.text}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * Hands `frame` to every subscriber; those whose queue overflowed are passed to `leave` after the
 * loop, so their presence events follow `frame` for everyone.
 *
 * @example
 * ```ts
 * import { broadcast } from "./_hub-parts.ts";
 * import { MemorySubscription } from "./_subscription.ts";
 * const subscribers = new Set([new MemorySubscription([], 8, () => {}, undefined, "lobby")]);
 * broadcast(subscribers, { data: "hi" }, (subscription) => subscribers.delete(subscription));
 * ```
 */
export function broadcast<Tag>(
  subscribers: Iterable<MemorySubscription<Tag>>,
  frame: EventMessage,
  leave: (subscription: MemorySubscription<Tag>) => void,
): void {
  let dropped: MemorySubscription<Tag>[] | undefined;
  for (const subscription of subscribers) {
    if (!subscription.push(frame)) (dropped ??= []).push(subscription);
  }
  if (dropped !== undefined) for (const subscription of dropped) leave(subscription);
}

/**
 * Calls every presence listener with `event`; a listener that throws goes to `onError`, the
 * others still hear it.
 *
 * @example
 * ```ts
 * import { tellPresence } from "./_hub-parts.ts";
 * tellPresence([(event) => console.log(event.subscribers)], { type: "presence", room: "lobby", subscribers: 2 }, console.error);
 * ```
 */
export function tellPresence(
  listeners: Iterable<(event: PresenceEvent) => void>,
  event: PresenceEvent,
  onError: (error: unknown) => void,
): void {
  for (const listener of listeners) {
    try {
      listener(event);
    } catch (error) {
      onError(error);
    }
  }
}

/**
 * `Hub.page`'s options checked the same way by both hubs: the limit, and the `before` cursor
 * matched against the hub's own id shape.
 *
 * @param options The caller's options.
 * @param cursor The hub's id shape (its groups are what the hub needs of an id).
 * @returns The limit, and the cursor's match (`null` without `before`).
 * @throws {RangeError} For a limit that is not a positive safe integer.
 * @throws {InvalidCursorError} For a `before` of another shape.
 *
 * @example
 * ```ts
 * import { pageRequest } from "./_hub-parts.ts";
 * const { limit, cursor } = pageRequest({ before: "ep-7", limit: 20 }, /^(.+)-(\d+)$/);
 * console.log(limit, cursor?.[2]); // 20 "7"
 * ```
 */
export function pageRequest(options: PageOptions, cursor: RegExp): { limit: number; cursor: RegExpExecArray | null } {
  const limit = checkNumber(options.limit, "a positive safe integer", "Cannot page", "limit");
  const { before } = options;
  if (before === undefined) return { limit, cursor: null };
  const match = cursor.exec(before);
  if (match === null) throw new InvalidCursorError(before);
  return { limit, cursor: match };
}
