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
import { type BotLanguage, botLanguage } from "./_bot-language.ts";
import type { Responder, ResponderRequest } from "./bot.ts";
import { type ChatMessage, type Hub, HubClosedError } from "./hub.ts";
import { type ChatNumericOptions, readOption } from "./options.ts";

/**
 * Options of {@link createReplyRunner}.
 *
 * @example
 * ```ts
 * import { createMemoryHub } from "./memory-hub.ts";
 * import { typewriterResponder } from "./bot.ts";
 * import type { ReplyRunnerOptions } from "./_reply.ts";
 * const options: ReplyRunnerOptions = { hub: createMemoryHub(), responder: typewriterResponder(), replyTimeoutMs: 30_000 };
 * ```
 */
export type ReplyRunnerOptions = Pick<
  ChatNumericOptions,
  "replyTimeoutMs" | "maxRepliesPerRoom" | "maxReplies" | "maxReplyChars" | "replyContextSize" | "replyDeltaMs"
> & {
  hub: Hub;
  responder: Responder;
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
 * import type { ReplyRunner } from "./_reply.ts";
 * async function shutdown(replies: ReplyRunner): Promise<void> {
 *   await replies.close(); // every running reply is stored with a note
 * }
 * ```
 */
export interface ReplyRunner {
  /**
   * Answers `question` in its room, in the background. `language` is the asker's preferred one
   * (`Accept-Language`), given to the responder; the runner's own notes follow the question's
   * language (`botLanguage`). Returns the reply's id.
   */
  start(question: ChatMessage, language?: string): string;
  /** Stops every running reply and resolves once each has stored its final message. */
  close(): Promise<void>;
}

type StopReason = "timeout" | "empty" | "close";
type Running = { stop(reason: StopReason): void; readonly done: Promise<void> };
type Settings = {
  readonly hub: Hub;
  readonly responder: Responder;
  readonly timeoutMs: number;
  readonly maxPerRoom: number;
  readonly maxReplies: number;
  readonly maxChars: number;
  readonly deltaMs: number;
  readonly contextSize: number;
  readonly now: () => Date;
  onError(error: unknown): void;
};
/** How one reply is told to stop: its signal, and why it was stopped (`undefined` while running). */
type Control = { readonly signal: AbortSignal; reason(): StopReason | undefined };
/** What the responder produced before it finished or was stopped. */
type Outcome = { text: string; cut: boolean; failed: boolean };

const ABORTED = Symbol("aborted");
const ACTION = "Cannot create reply runner";

// The notes appended to a reply that ended early (timeout and length notes name their limit).
/** The runner's own words in a room, per language (the language of the question, `botLanguage`). */
const NOTES = {
  en: {
    empty: "Stopped: nobody is left in the room.",
    close: "Stopped: the server is shutting down.",
    failed: "Sorry, something went wrong while answering.",
    silent: "I have no answer to that.",
    nobody: "I only answer while someone is connected to the room, and nobody is.",
    busyRoom: (n: number) => `I'm already answering ${n} messages in this room; ask again when I'm done.`,
    busy: "I'm answering too many messages right now; ask again in a moment.",
    timeout: (ms: number) => `The reply timed out after ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`}.`,
    cut: (n: number) => `Cut at ${n} characters.`,
  },
  ko: {
    empty: "멈췄어요: 대화방에 아무도 남지 않았어요.",
    close: "멈췄어요: 서버가 종료되고 있어요.",
    failed: "죄송해요, 답하는 중에 문제가 생겼어요.",
    silent: "그 말에는 드릴 답이 없어요.",
    nobody: "누군가 대화방에 접속해 있을 때만 답해요. 지금은 아무도 없어요.",
    busyRoom: (n: number) => `이 대화방에서 이미 메시지 ${n}개에 답하고 있어요. 끝나면 다시 물어봐 주세요.`,
    busy: "지금 답하고 있는 메시지가 너무 많아요. 잠시 후에 다시 물어봐 주세요.",
    timeout: (ms: number) => `답이 ${ms % 1000 === 0 ? `${ms / 1000}초` : `${ms}ms`} 만에 시간 초과로 멈췄어요.`,
    cut: (n: number) => `${n}자에서 잘랐어요.`,
  },
} as const satisfies Record<BotLanguage, unknown>;

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
 * import { createReplyRunner } from "./_reply.ts";
 * const hub = createMemoryHub();
 * const replies = createReplyRunner({ hub, responder: typewriterResponder() });
 * const subscription = await hub.subscribe("lobby");
 * const question = await hub.publish("lobby", { user: "alice", text: "/bot time", time: new Date().toISOString() });
 * replies.start(question); // reply-start, reply-deltas, then the stored answer reach `subscription`
 * ```
 */
export function createReplyRunner(options: ReplyRunnerOptions): ReplyRunner {
  const settings: Settings = {
    hub: options.hub,
    responder: options.responder,
    timeoutMs: readOption(options, "replyTimeoutMs", ACTION),
    maxPerRoom: readOption(options, "maxRepliesPerRoom", ACTION),
    maxReplies: readOption(options, "maxReplies", ACTION),
    maxChars: readOption(options, "maxReplyChars", ACTION),
    deltaMs: readOption(options, "replyDeltaMs", ACTION),
    contextSize: readOption(options, "replyContextSize", ACTION),
    now: options.now ?? (() => new Date()),
    onError: options.onError ?? ((error: unknown) => console.error("eddy: bot reply failed:", error)),
  };
  const rooms = new Map<string, Set<Running>>();
  let runningCount = 0;
  let closed = false;
  const stopPresence = settings.hub.onPresence((event) => {
    if (event.subscribers > 0) return;
    for (const running of rooms.get(event.room) ?? []) running.stop("empty");
  });

  return {
    start(question, language) {
      const replyId = crypto.randomUUID();
      const { room } = question;
      if (closed) return replyId;
      const notes = NOTES[botLanguage(question.text, language)];
      const set = rooms.get(room) ?? new Set<Running>();
      const busy =
        set.size >= settings.maxPerRoom
          ? notes.busyRoom(settings.maxPerRoom)
          : runningCount >= settings.maxReplies
            ? notes.busy
            : undefined;
      if (busy !== undefined) {
        void store(settings, room, replyId, busy, true);
        return replyId;
      }
      runningCount++;
      const controller = new AbortController();
      let reason: StopReason | undefined;
      const stop = (why: StopReason) => {
        if (reason !== undefined) return;
        reason = why;
        controller.abort(new Error(`Reply stopped: ${why}`));
      };
      const timer = setTimeout(stop, settings.timeoutMs, "timeout");
      const control = { signal: controller.signal, reason: () => reason };
      const done = runReply(settings, question, language, replyId, control)
        .catch(settings.onError)
        .finally(() => {
          clearTimeout(timer);
          runningCount--;
          set.delete(running);
          if (set.size === 0 && rooms.get(room) === set) rooms.delete(room);
        });
      const running: Running = { stop, done };
      set.add(running);
      rooms.set(room, set);
      return replyId;
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

async function runReply(
  settings: Settings,
  question: ChatMessage,
  language: string | undefined,
  replyId: string,
  control: Control,
): Promise<void> {
  const { hub, now } = settings;
  const { room } = question;
  const notes = botLanguage(question.text, language);
  const info = await hub.room(room);
  if (info === undefined || info.subscribers === 0) return store(settings, room, replyId, NOTES[notes].nobody, true);
  let outcome: Outcome = { text: "", cut: false, failed: false };
  try {
    const history = await hub.history(room, settings.contextSize);
    await hub.emit(room, {
      type: "reply-start",
      replyId,
      room,
      user: "bot",
      inReplyTo: question.id,
      time: now().toISOString(),
      text: "",
    });
    const stats = { messages: info.messages, subscribers: info.subscribers };
    outcome = await pump(
      settings,
      replyId,
      {
        room,
        text: question.text,
        history,
        signal: control.signal,
        stats,
        ...(language === undefined ? {} : { language }),
      },
      control,
    );
  } catch (error) {
    outcome.failed = report(settings, control, error);
  }
  const stopped = control.reason();
  const final = finalText(settings, notes, outcome, stopped);
  await store(settings, room, replyId, final, outcome.failed || stopped !== undefined);
}

// Reads the responder until it ends, fails, is stopped or passes the length limit, sending each
// chunk to the room as it comes.
async function pump(
  settings: Settings,
  replyId: string,
  request: ResponderRequest,
  control: Control,
): Promise<Outcome> {
  const outcome: Outcome = { text: "", cut: false, failed: false };
  const deltas = new DeltaBatcher(settings, request.room, replyId);
  let iterator: AsyncIterator<string> | undefined;
  let finished = false;
  try {
    iterator = settings.responder(request)[Symbol.asyncIterator]();
    for (;;) {
      const step = await untilAborted(iterator.next(), control.signal);
      if (step === ABORTED) break;
      if (step.done === true) {
        finished = true;
        break;
      }
      if (typeof step.value !== "string")
        throw new TypeError(`Responder yielded ${typeof step.value}, expected a string chunk`);
      let delta = step.value;
      if (outcome.text.length + delta.length > settings.maxChars) {
        delta = delta.slice(0, settings.maxChars - outcome.text.length);
        // Never keep half of a surrogate pair: it would reach readers as U+FFFD.
        if (/[\uD800-\uDBFF]$/.test(delta)) delta = delta.slice(0, -1);
        outcome.cut = true;
      }
      if (delta !== "") {
        outcome.text += delta;
        await deltas.add(delta);
      }
      if (outcome.cut) break;
    }
  } catch (error) {
    outcome.failed = report(settings, control, error);
  }
  // What is still held goes out before the final message (which carries the whole text anyway).
  try {
    await deltas.flush();
  } catch (error) {
    outcome.failed ||= report(settings, control, error);
  }
  // Do not wait: an async generator's return() waits for its pending next(), which a hung
  // responder may never settle.
  if (iterator !== undefined && !finished) closeQuietly(iterator, settings.onError);
  return outcome;
}

/**
 * Sends a reply's chunks as `reply-delta` events at most every `deltaMs`: the first at once, the
 * ones arriving within the interval joined into one event when it ends. A responder that yields
 * word by word, or all at once, then costs every subscriber a bounded number of events (at most
 * 20 a second by default) instead of one per word. Emits run one at a time, in order.
 */
class DeltaBatcher {
  readonly #settings: Settings;
  readonly #room: string;
  readonly #replyId: string;
  #held = "";
  #last = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> = Promise.resolve();

  constructor(settings: Settings, room: string, replyId: string) {
    this.#settings = settings;
    this.#room = room;
    this.#replyId = replyId;
  }

  /** Takes a chunk; resolves once it is sent or held for the next event. */
  add(delta: string): Promise<void> {
    this.#held += delta;
    const wait = this.#last + this.#settings.deltaMs - performance.now();
    if (wait <= 0) return this.flush();
    // A failed timed send surfaces at the next add or at the final flush.
    this.#timer ??= setTimeout(() => void this.flush().catch(() => {}), wait);
    return this.#sending;
  }

  /** Sends whatever is held now. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#held === "") return this.#sending;
    const delta = this.#held;
    this.#held = "";
    this.#last = performance.now();
    this.#sending = this.#sending.then(() =>
      this.#settings.hub.emit(this.#room, { type: "reply-delta", replyId: this.#replyId, delta }),
    );
    return this.#sending;
  }
}

// Reports a failure; returns whether it counts as one. Once the reply was stopped, an abort
// error from the responder is expected, and a hub closed under us is shutdown, not a bug.
function report(settings: Settings, control: Control, error: unknown): boolean {
  if (control.reason() !== undefined) return false;
  if (!(error instanceof HubClosedError)) settings.onError(error);
  return true;
}

function finalText(
  settings: Settings,
  language: BotLanguage,
  { text, cut, failed }: Outcome,
  stopped: StopReason | undefined,
): string {
  const notes = NOTES[language];
  const note = failed
    ? notes.failed
    : stopped === "timeout"
      ? notes.timeout(settings.timeoutMs)
      : stopped !== undefined
        ? notes[stopped]
        : cut
          ? notes.cut(settings.maxChars)
          : text.trim() === ""
            ? notes.silent
            : "";
  // Trailing whitespace is trimmed as it is for people's messages (validate.ts).
  const body = text.trimEnd();
  return note === "" ? body : `${body}${body === "" ? "" : "\n\n"}[${note}]`;
}

// Stores a bot message; a hub closed meanwhile (shutdown) is the only expected failure.
async function store(settings: Settings, room: string, replyId: string, text: string, error: boolean): Promise<void> {
  try {
    await settings.hub.publish(room, {
      user: "bot",
      text,
      time: settings.now().toISOString(),
      replyId,
      ...(error ? { error: true as const } : {}),
    });
  } catch (failure) {
    if (!(failure instanceof HubClosedError)) settings.onError(failure);
  }
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
