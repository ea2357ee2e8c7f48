/**
 * Private to the hubs: the pieces the in-memory and the Redis hub share, so the two behave alike
 * where they should — a message's fields in wire order, the fan-out loop over a room's
 * subscribers, and telling presence listeners.
 *
 * @module
 */
import type { EventMessage } from "../mod.ts";
import type { ChatMessage, MessageInput, PresenceEvent } from "./hub.ts";
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
