/**
 * Runs the bot: for a message addressed to it, streams the {@link Responder}'s chunks to the room
 * as `reply-start` / `reply-delta` events, then stores the finished text as a normal message
 * carrying the `replyId`, so history and resume show the whole reply.
 *
 * A reply belongs to the room, not to the request that asked: the asker closing its stream does
 * not stop it. It stops early only on a timeout, a responder error, its length limit, the room
 * emptying (nobody is left to read it) or shutdown; it then still ends with a stored message —
 * what was produced plus a note, with `"error": true` unless it was only cut for length — never
 * with a half-reply nobody finishes.
 *
 * @module
 */
import type { Responder } from "./bot.ts";
import { type ChatMessage, type Hub, HubClosedError } from "./hub.ts";

/**
 * Options of {@link createReplyRunner}.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * import { typewriterResponder } from "./bot.ts";
 * import type { ReplyRunnerOptions } from "./reply.ts";
 * const options: ReplyRunnerOptions = { hub: createMemoryHub(), responder: typewriterResponder(), timeoutMs: 30_000 };
 * ```
 */
export type ReplyRunnerOptions = {
  hub: Hub;
  responder: Responder;
  /** The longest a reply may run, from start to final message, in ms. Default 60 000. */
  timeoutMs?: number;
  /** Replies running at once in one room; more are answered with a short "busy" message. Default 2. */
  maxPerRoom?: number;
  /** The longest reply text, in UTF-16 code units; the rest is cut. Default 4000. */
  maxChars?: number;
  /** Messages of history given to the responder as context. Default 20. */
  contextSize?: number;
  /** The clock for message times. Default `() => new Date()`. */
  now?: () => Date;
  /** Receives responder failures and storage errors. Default `console.error`. */
  onError?(error: unknown): void;
};

/**
 * Starts and stops bot replies; made by {@link createReplyRunner}.
 *
 * @example
 * ```ts
 * import type { ReplyRunner } from "./reply.ts";
 * async function shutdown(replies: ReplyRunner): Promise<void> {
 *   await replies.close(); // every running reply is stored with a note
 * }
 * ```
 */
export interface ReplyRunner {
  /** Answers `question` in its room, in the background. Returns the reply's id. */
  start(question: ChatMessage): string;
  /** Replies running now in `room`. */
  running(room: string): number;
  /** Stops every running reply and resolves once each has stored its final message. */
  close(): Promise<void>;
}

type StopReason = "timeout" | "empty" | "close";
type Running = { readonly controller: AbortController; stop(reason: StopReason): void; readonly done: Promise<void> };

const ABORTED = Symbol("aborted");

// The notes appended to a reply that ended early (timeout and length notes name their limit).
const NOTES = {
  empty: "Stopped: nobody is left in the room.",
  close: "Stopped: the server is shutting down.",
  failed: "Sorry, something went wrong while answering.",
} as const;

/**
 * Creates the reply runner. It listens to the hub's presence to stop replies in rooms that
 * empty, and at start answers without streaming when the room has nobody to stream to (a note)
 * or already runs `maxPerRoom` replies (a "busy" note).
 *
 * @param options The hub, the responder, and limits.
 * @returns The {@link ReplyRunner}.
 * @throws {RangeError} If a limit is not a positive number.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * import { typewriterResponder } from "./bot.ts";
 * import { createReplyRunner } from "./reply.ts";
 * const hub = createMemoryHub();
 * const replies = createReplyRunner({ hub, responder: typewriterResponder() });
 * const subscription = await hub.subscribe("lobby");
 * const question = await hub.publish("lobby", { user: "alice", text: "/bot time", time: new Date().toISOString() });
 * replies.start(question); // reply-start, reply-deltas, then the stored answer reach `subscription`
 * ```
 */
export function createReplyRunner(options: ReplyRunnerOptions): ReplyRunner {
  const { hub, responder } = options;
  const timeoutMs = positive("timeoutMs", options.timeoutMs ?? 60_000);
  const maxPerRoom = positive("maxPerRoom", options.maxPerRoom ?? 2);
  const maxChars = positive("maxChars", options.maxChars ?? 4000);
  const contextSize = positive("contextSize", options.contextSize ?? 20);
  const now = options.now ?? (() => new Date());
  const onError = options.onError ?? ((error: unknown) => console.error("eddy: bot reply failed:", error));
  const rooms = new Map<string, Set<Running>>();
  let closed = false;

  const stopPresence = hub.onPresence((event) => {
    if (event.subscribers > 0) return;
    for (const running of rooms.get(event.room) ?? []) running.stop("empty");
  });

  // Stores a bot message; a hub closed meanwhile (shutdown) is the only expected failure.
  const store = async (room: string, replyId: string, text: string, error: boolean): Promise<void> => {
    try {
      await hub.publish(room, { user: "bot", text, time: now().toISOString(), replyId, ...(error ? { error: true as const } : {}) });
    } catch (failure) {
      if (!(failure instanceof HubClosedError)) onError(failure);
    }
  };

  const run = async (question: ChatMessage, replyId: string, signal: AbortSignal, reason: () => StopReason | undefined): Promise<void> => {
    const { room } = question;
    const info = await hub.room(room);
    if (info === undefined || info.subscribers === 0) {
      return store(room, replyId, "I only answer while someone is connected to the room, and nobody is.", true);
    }
    const history = await hub.history(room, contextSize);
    await hub.emit(room, { type: "reply-start", replyId, room, user: "bot", inReplyTo: question.id, time: now().toISOString(), text: "" });
    let text = "";
    let cut = false;
    let failed = false;
    let iterator: AsyncIterator<string> | undefined;
    let finished = false;
    try {
      iterator = responder({ room, text: question.text, history, signal, stats: { messages: info.messages, subscribers: info.subscribers } })[Symbol.asyncIterator]();
      for (;;) {
        const step = await untilAborted(iterator.next(), signal);
        if (step === ABORTED) break;
        if (step.done === true) {
          finished = true;
          break;
        }
        if (typeof step.value !== "string") throw new TypeError(`Responder yielded ${typeof step.value}, expected a string chunk`);
        let delta = step.value;
        if (text.length + delta.length > maxChars) {
          delta = delta.slice(0, maxChars - text.length);
          cut = true;
        }
        if (delta !== "") {
          text += delta;
          await hub.emit(room, { type: "reply-delta", replyId, delta });
        }
        if (cut) break;
      }
    } catch (error) {
      // Once the reply was stopped, the responder's abort error is expected, not a failure.
      if (reason() === undefined) {
        failed = true;
        onError(error);
      }
    }
    // Do not wait: an async generator's return() waits for its pending next(), which a hung
    // responder may never settle.
    if (iterator !== undefined && !finished) closeQuietly(iterator, onError);
    const stopped = reason();
    const note = failed
      ? NOTES.failed
      : stopped === "timeout"
        ? `The reply timed out after ${formatSeconds(timeoutMs)}.`
        : stopped !== undefined
          ? NOTES[stopped]
          : cut
            ? `Cut at ${maxChars} characters.`
            : text.trim() === ""
              ? "I have no answer to that."
              : "";
    // Trailing whitespace is trimmed as it is for people's messages (validate.ts).
    const body = text.trimEnd();
    const final = note === "" ? body : `${body}${body === "" ? "" : "\n\n"}[${note}]`;
    await store(room, replyId, final, failed || stopped !== undefined);
  };

  return {
    start(question) {
      const replyId = crypto.randomUUID();
      const { room } = question;
      let set = rooms.get(room);
      if (closed) return replyId;
      if (set !== undefined && set.size >= maxPerRoom) {
        void store(room, replyId, `I'm already answering ${maxPerRoom} messages in this room; ask again when I'm done.`, true);
        return replyId;
      }
      const controller = new AbortController();
      let stopReason: StopReason | undefined;
      const stop = (why: StopReason) => {
        if (stopReason !== undefined) return;
        stopReason = why;
        controller.abort(new Error(`Reply stopped: ${why}`));
      };
      const timer = setTimeout(stop, timeoutMs, "timeout");
      const running: Running = {
        controller,
        stop,
        done: run(question, replyId, controller.signal, () => stopReason)
          .catch(onError)
          .finally(() => {
            clearTimeout(timer);
            set!.delete(running);
            if (set!.size === 0 && rooms.get(room) === set) rooms.delete(room);
          }),
      };
      if (set === undefined) rooms.set(room, (set = new Set()));
      set.add(running);
      return replyId;
    },
    running(room) {
      return rooms.get(room)?.size ?? 0;
    },
    async close() {
      closed = true;
      stopPresence();
      const all = [...rooms.values()].flatMap((set) => [...set]);
      for (const running of all) running.stop("close");
      await Promise.all(all.map((running) => running.done));
    },
  };
}

// Resolves with the step, or with ABORTED as soon as `signal` aborts (the step is then ignored).
function untilAborted<T>(next: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) {
    next.catch(() => {});
    return Promise.resolve(ABORTED);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    next.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function closeQuietly(iterator: AsyncIterator<string>, onError: (error: unknown) => void): void {
  try {
    iterator.return?.()?.catch(() => {});
  } catch (error) {
    onError(error);
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Cannot create reply runner: "${name}" must be a positive number, received ${String(value)}`);
  }
  return value;
}
