/**
 * The bot's contract ({@link Responder}) and the built-in {@link typewriterResponder}: a
 * deterministic bot that needs no network and streams its answer word by word, so the streaming
 * path (reply-start, reply-delta, final message) can be seen and tested without a language model.
 *
 * @module
 */
import { type BotLanguage, botLanguage } from "./_bot-language.ts";
import { checkNumber } from "./_check.ts";
import type { ChatMessage } from "./hub.ts";
import { CHAT_OPTIONS } from "./options.ts";

/**
 * Counts about the room, given to a responder (`/bot stats` shows them).
 *
 * @example
 * ```ts
 * import type { RoomStats } from "./bot.ts";
 * const stats: RoomStats = { messages: 120, subscribers: 3 };
 * ```
 */
export type RoomStats = {
  /** Messages stored in the room so far, the question included. */
  readonly messages: number;
  /** Streams open on the room now. */
  readonly subscribers: number;
};

/**
 * What a responder is asked: the message addressed to the bot and its context.
 *
 * @example
 * ```ts
 * import type { ResponderRequest } from "./bot.ts";
 * const request: ResponderRequest = {
 *   room: "lobby", text: "/bot time", history: [], signal: new AbortController().signal,
 *   stats: { messages: 1, subscribers: 1 },
 * };
 * ```
 */
export type ResponderRequest = {
  readonly room: string;
  /** The full text of the message, with its `/bot` or `@bot` prefix. */
  readonly text: string;
  /** The room's latest messages, oldest first; the last one is the question itself. */
  readonly history: ChatMessage[];
  /** Aborted when the reply must stop (timeout, nobody left in the room, shutdown). */
  readonly signal: AbortSignal;
  readonly stats: RoomStats;
  /**
   * The language the asker's browser prefers most (`Accept-Language` of the post, e.g. `ko-KR`),
   * when it named one. The built-in bot answers in Korean for `ko`, or for a question in Hangul.
   */
  readonly language?: string;
};

/**
 * A bot: answers one message as a stream of text chunks. It should stop promptly when `signal`
 * aborts; the reply runner stops reading it then in any case.
 *
 * @example
 * ```ts
 * import type { Responder } from "./bot.ts";
 * const shout: Responder = async function* ({ text }) {
 *   yield text.replace(/^[/@]bot\s*!/i, "").toUpperCase();
 * };
 * ```
 */
export type Responder = (request: ResponderRequest) => AsyncIterable<string>;

/**
 * Options of {@link typewriterResponder}.
 *
 * @example
 * ```ts
 * import type { TypewriterOptions } from "./bot.ts";
 * const options: TypewriterOptions = { delayMs: 0 };
 * ```
 */
export type TypewriterOptions = {
  /** The pause before each word, in milliseconds (`typewriterMs` in {@link CHAT_OPTIONS}). Default 40; `0` streams without timers. */
  delayMs?: number;
  /** The clock `/bot time` reads. Default `() => new Date()`. */
  now?: () => Date;
};

const ADDRESSED = /^[/@]bot(?![\p{L}\p{N}_-])/iu;
const MAX_LISTED_USERS = 10;

/**
 * Whether a message is addressed to the bot: it starts with `/bot` or `@bot` as a whole word
 * (any case), so `/botany` is not.
 *
 * @param text The message text.
 * @returns `true` if the bot should answer it.
 *
 * @example
 * ```ts
 * import { isForBot } from "./bot.ts";
 * isForBot("@bot what time is it?"); // true
 * isForBot("ask the bot"); // false
 * ```
 */
export function isForBot(text: string): boolean {
  return ADDRESSED.test(text);
}

/**
 * The built-in bot. Commands: `/bot help`, `/bot stats` (messages, subscribers, active users),
 * `/bot echo <text>`, `/bot time` (in Korean also `도움말`, `통계`, `따라하기`, `시간`); anything
 * else gets a friendly note on what it can do. It answers in Korean to a question in Hangul or
 * from an asker who prefers Korean (`request.language`), else in English. The answer streams
 * one word (with its trailing whitespace) per chunk, `delayMs` apart.
 *
 * @param options `delayMs` (default 40), `now`.
 * @returns A {@link Responder}.
 * @throws {RangeError} If `delayMs` is negative or not finite.
 *
 * @example
 * ```ts
 * import { typewriterResponder } from "./bot.ts";
 * const bot = typewriterResponder({ delayMs: 0 });
 * const signal = new AbortController().signal;
 * let answer = "";
 * for await (const chunk of bot({ room: "lobby", text: "/bot echo hi there", history: [], signal, stats: { messages: 1, subscribers: 1 } })) {
 *   answer += chunk; // "hi ", then "there"
 * }
 * ```
 */
export function typewriterResponder(options: TypewriterOptions = {}): Responder {
  const { kind, default: fallback } = CHAT_OPTIONS.typewriterMs;
  const delayMs = checkNumber(options.delayMs ?? fallback, kind, "Cannot create typewriter responder", "delayMs");
  const now = options.now ?? (() => new Date());
  return async function* typewriter(request) {
    const answer = answerFor(request, now);
    for (const chunk of answer.match(/\s*\S+\s*/g) ?? []) {
      if (delayMs > 0) await sleep(delayMs, request.signal);
      if (request.signal.aborted) return;
      yield chunk;
    }
  };
}

/** Korean names of the commands, beside the English ones (which work in either language). */
const COMMANDS = new Map([
  ["help", "help"],
  ["stats", "stats"],
  ["echo", "echo"],
  ["time", "time"],
  ["도움말", "help"],
  ["통계", "stats"],
  ["따라하기", "echo"],
  ["따라해", "echo"],
  ["시간", "time"],
]);

/** What the built-in bot says, per language. */
const SAYS = {
  en: {
    help: [
      "Here is what I can do:",
      "- /bot help: this list",
      "- /bot stats: messages, subscribers and active users in this room",
      "- /bot echo <text>: I repeat your text",
      "- /bot time: the server's current time (UTC)",
      "You can write @bot instead of /bot.",
    ].join("\n"),
    stats: (room: string, stats: RoomStats, users: number, seen: number, listed: string) =>
      `Room ${room}: ${count(stats.messages, "message")} so far, ${count(stats.subscribers, "subscriber")} connected, ` +
      `${count(users, "active user")} in the last ${count(seen, "message")}` +
      (users > 0 ? ` (${listed}).` : "."),
    echoWhat: "Give me something to echo, for example: /bot echo hello",
    time: (iso: string) => `It is ${iso} (UTC) on this server.`,
    unknown: (asked: string) =>
      `Hi! ${asked === "" ? "" : `I don't know how to answer "${asked}" yet. `}I'm the eddy demo bot and I know a few commands: /bot help lists them, /bot stats shows who is here, /bot echo <text> repeats you and /bot time tells the time.`,
  },
  ko: {
    help: [
      "제가 할 수 있는 일이에요:",
      "- /bot 도움말 (/bot help): 이 목록",
      "- /bot 통계 (/bot stats): 이 대화방의 메시지 수, 접속자 수, 최근에 대화한 사람",
      "- /bot 따라하기 <글> (/bot echo): 글을 그대로 따라 해요",
      "- /bot 시간 (/bot time): 서버의 현재 시각 (UTC)",
      "/bot 대신 @bot이라고 써도 돼요.",
    ].join("\n"),
    stats: (room: string, stats: RoomStats, users: number, seen: number, listed: string) =>
      `${room} 대화방: 지금까지 메시지 ${stats.messages}개, 접속 ${stats.subscribers}명, ` +
      `최근 메시지 ${seen}개 중 대화한 사람 ${users}명` +
      (users > 0 ? ` (${listed}).` : "."),
    echoWhat: "따라 할 글을 주세요. 예: /bot 따라하기 안녕하세요",
    time: (iso: string) => `이 서버의 현재 시각은 ${iso} (UTC)예요.`,
    unknown: (asked: string) =>
      `안녕하세요! ${asked === "" ? "" : `"${asked}"에는 아직 답할 줄 몰라요. `}저는 eddy 데모 봇이고 명령 몇 가지를 알아요: /bot 도움말은 명령 목록, /bot 통계는 대화방 현황, /bot 따라하기 <글>은 따라 하기, /bot 시간은 현재 시각이에요.`,
  },
} as const satisfies Record<BotLanguage, unknown>;

function answerFor({ room, text, history, stats, language }: ResponderRequest, now: () => Date): string {
  const says = SAYS[botLanguage(text, language)];
  const rest = text.replace(ADDRESSED, "").trim();
  const [command = "", ...words] = rest.split(/\s+/);
  switch (COMMANDS.get(command.toLowerCase())) {
    case "help":
      return says.help;
    case "stats": {
      const users = [...new Set(history.filter((m) => m.user !== "bot").map((m) => m.user))];
      const listed = users.slice(0, MAX_LISTED_USERS).join(", ") + (users.length > MAX_LISTED_USERS ? ", …" : "");
      return says.stats(room, stats, users.length, history.length, listed);
    }
    case "echo": {
      // Echo the text after the command as it was written, line breaks included.
      const echoed = rest.slice(command.length).trim();
      return echoed === "" ? says.echoWhat : echoed;
    }
    case "time":
      return says.time(now().toISOString());
    default:
      return says.unknown(command === "" ? "" : truncate([command, ...words].join(" ")));
  }
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 60)}…` : text;
}

// Resolves after `ms`, or at once when `signal` aborts (the timer is then cleared).
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
