/**
 * The bot: the typewriter responder's answers and pacing, and the reply runner through the app —
 * reply-start, reply-deltas, then the stored message with replyId; failures and timeouts end with
 * a visible error message; the asker leaving does not cancel; an emptied room aborts; a late
 * joiner catches up; limits; shutdown. No sleeps: fake timers or conditions with a deadline.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import {
  createChatApp,
  isForBot,
  typewriterResponder,
  type ChatApp,
  type ChatAppOptions,
  type ChatMessage,
  type ResponderRequest,
} from "../core/chat/mod.ts";
import { botLanguage, preferredLanguage } from "../core/chat/_bot-language.ts";
import { dataOf, messagesOf, scriptedResponder, send, watch } from "./_chat.ts";

const apps: ChatApp[] = [];
/** The app, by default sending each responder chunk as its own reply-delta (no coalescing interval). */
function makeApp(options: ChatAppOptions): ChatApp {
  const app = createChatApp({ replyDeltaMs: 0, ...options });
  apps.push(app);
  return app;
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

const request = (text: string, extra: Partial<ResponderRequest> = {}): ResponderRequest => ({
  room: "lobby",
  text,
  history: [],
  signal: new AbortController().signal,
  stats: { messages: 1, subscribers: 1 },
  ...extra,
});

async function chunksOf(iterable: AsyncIterable<string>): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of iterable) chunks.push(chunk);
  return chunks;
}

type ReplyStart = { replyId: string; room: string; user: string; inReplyTo: string; time: string; text: string };

/** The stored bot message of a room (from the hub's history). */
async function botMessages(app: ChatApp, room: string): Promise<ChatMessage[]> {
  return (await app.hub.history(room, 100)).filter((m) => m.user === "bot");
}

/** Waits until the room's history holds `n` bot messages. */
async function botMessageCount(app: ChatApp, room: string, n: number): Promise<ChatMessage[]> {
  await vi.waitFor(async () => expect((await botMessages(app, room)).length).toBeGreaterThanOrEqual(n), {
    timeout: 5000,
    interval: 5,
  });
  return botMessages(app, room);
}

describe("isForBot", () => {
  test("matches /bot and @bot as a whole word at the start, any case", () => {
    for (const text of ["/bot", "/bot help", "@bot hi", "/BOT time", "@Bot, hello", "/bot\nline"])
      expect(isForBot(text), text).toBe(true);
    for (const text of ["bot help", " /bot help", "/botany", "@bots", "/bot_x", "hi @bot", "/bo t"])
      expect(isForBot(text), text).toBe(false);
  });
});

describe("typewriterResponder", () => {
  const bot = typewriterResponder({ delayMs: 0, now: () => new Date("2025-06-07T08:09:10.000Z") });

  test("streams word by word; the chunks join into the answer", async () => {
    const chunks = await chunksOf(bot(request("/bot echo one  two\nthree")));
    expect(chunks).toEqual(["one  ", "two\n", "three"]);
  });

  test("/bot help lists every command", async () => {
    const answer = (await chunksOf(bot(request("/bot help")))).join("");
    for (const command of ["/bot help", "/bot stats", "/bot echo", "/bot time", "@bot"])
      expect(answer).toContain(command);
  });

  test("/bot stats reports messages, subscribers and the active users of the history", async () => {
    const at = "2025-01-01T00:00:00.000Z";
    const history: ChatMessage[] = [
      { id: "e-1", room: "lobby", user: "alice", text: "hi", time: at },
      { id: "e-2", room: "lobby", user: "bot", text: "hello", time: at, replyId: "r" },
      { id: "e-3", room: "lobby", user: "bob", text: "yo", time: at },
      { id: "e-4", room: "lobby", user: "alice", text: "/bot stats", time: at },
    ];
    const answer = (
      await chunksOf(bot(request("/bot stats", { history, stats: { messages: 42, subscribers: 3 } })))
    ).join("");
    expect(answer).toBe(
      "Room lobby: 42 messages so far, 3 subscribers connected, 2 active users in the last 4 messages (alice, bob).",
    );
  });

  test("/bot time, /bot echo without text, and anything else get useful answers", async () => {
    expect((await chunksOf(bot(request("@bot time")))).join("")).toBe(
      "It is 2025-06-07T08:09:10.000Z (UTC) on this server.",
    );
    expect((await chunksOf(bot(request("/bot echo")))).join("")).toContain("/bot echo hello");
    const other = (await chunksOf(bot(request("/bot what is the meaning of life?")))).join("");
    expect(other).toContain('"what is the meaning of life?"');
    expect(other).toContain("/bot help");
    expect((await chunksOf(bot(request("/bot")))).join("")).toMatch(/^Hi! I'm the eddy demo bot/);
  });

  test("waits delayMs before each word (fake timers) and stops when the signal aborts", async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const slow = typewriterResponder({ delayMs: 40 });
    const iterator = slow(request("/bot echo a b c d", { signal: controller.signal }))[Symbol.asyncIterator]();
    const first = iterator.next();
    let settled = false;
    void first.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(39);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await first).toEqual({ done: false, value: "a " });
    const second = iterator.next();
    await vi.advanceTimersByTimeAsync(40);
    expect(await second).toEqual({ done: false, value: "b " });
    const third = iterator.next();
    controller.abort();
    expect(await third).toEqual({ done: true, value: undefined });
    expect(vi.getTimerCount()).toBe(0); // the pending delay was cleared
  });

  test("refuses a negative delay", () => {
    expect(() => typewriterResponder({ delayMs: -1 })).toThrow(RangeError);
  });
});

describe("the bot in Korean", () => {
  const bot = typewriterResponder({ delayMs: 0, now: () => new Date("2025-06-07T08:09:10.000Z") });
  const answer = async (text: string, extra: Partial<ResponderRequest> = {}) =>
    (await chunksOf(bot(request(text, extra)))).join("");

  test("Korean commands, and English ones asked by someone who prefers Korean, get Korean answers", async () => {
    const help = await answer("/bot 도움말");
    expect(help).toMatch(/^제가 할 수 있는 일이에요:/);
    for (const command of ["/bot 도움말", "/bot 통계", "/bot 따라하기", "/bot 시간", "@bot"])
      expect(help).toContain(command);
    expect(await answer("/bot help", { language: "ko-KR" })).toBe(help);
    expect(await answer("/bot help", { language: "ko" })).toBe(help);
    expect(await answer("/bot 시간")).toBe("이 서버의 현재 시각은 2025-06-07T08:09:10.000Z (UTC)예요.");
    expect(await answer("/bot 따라해 안녕 여러분")).toBe("안녕 여러분");
    expect(await answer("/bot 따라하기")).toBe("따라 할 글을 주세요. 예: /bot 따라하기 안녕하세요");
    expect(await answer("/bot 날씨 어때?")).toMatch(/^안녕하세요! "날씨 어때\?"에는 아직 답할 줄 몰라요\. /);
    expect(await answer("/bot stats", { language: "ko-KR", stats: { messages: 7, subscribers: 2 } })).toBe(
      "lobby 대화방: 지금까지 메시지 7개, 접속 2명, 최근 메시지 0개 중 대화한 사람 0명.",
    );
  });

  test("English for everyone else, whatever command language they use", async () => {
    expect(await answer("/bot help", { language: "en-US" })).toMatch(/^Here is what I can do:/);
    expect(await answer("/bot help")).toMatch(/^Here is what I can do:/);
    expect(await answer("/bot time", { language: "fr" })).toBe("It is 2025-06-07T08:09:10.000Z (UTC) on this server.");
    expect(await answer("/bot constructor")).toMatch(/^Hi! I don't know how to answer "constructor" yet\./);
  });

  test("the asker's Accept-Language reaches the responder; the runner's own notes follow the question", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/r/events");
    const posted = await app.fetch(
      new Request("http://chat.test/rooms/r/messages", {
        method: "POST",
        headers: { "content-type": "application/json", "accept-language": "en;q=0.3, ko-KR, ko;q=0.9" },
        body: JSON.stringify({ user: "민수", text: "/bot 안녕?" }),
      }),
    );
    expect(posted.status).toBe(201);
    await scripted.called(1);
    expect(scripted.requests[0]?.language).toBe("ko-KR");
    await watcher.cancel(); // nobody left: the reply stops with the runner's note, in Korean
    const [final] = await botMessageCount(app, "r", 1);
    expect(final?.text).toContain("[멈췄어요: 대화방에 아무도 남지 않았어요.]");
    // Without the header the responder is told nothing, and an English question gets English notes.
    await send(app, "r", "/bot anyone?");
    const [, second] = await botMessageCount(app, "r", 2);
    expect(second?.text).toBe("I only answer while someone is connected to the room, and nobody is.");
    expect(scripted.requests).toHaveLength(1);
  });
});

describe("preferredLanguage", () => {
  test("the range of highest weight, the first of equals; *, weight 0 and malformed ranges never", () => {
    expect(preferredLanguage("ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7")).toBe("ko-KR");
    expect(preferredLanguage("en;q=0.5, ko-KR, ko;q=0.9")).toBe("ko-KR");
    expect(preferredLanguage("fr;q=0.8, de;q=0.8")).toBe("fr");
    expect(preferredLanguage("*, ko;q=0.1")).toBe("ko");
    expect(preferredLanguage("ko;q=0, en;q=0.1")).toBe("en");
    expect(preferredLanguage("ko;q=2, en;q=0.1")).toBe("en"); // not a weight: counts for nothing
    expect(preferredLanguage("<script>, ko")).toBe("ko");
    expect(preferredLanguage(`${"a-".repeat(40)}b, ko`)).toBe("ko"); // longer than any tag worth naming
    expect(preferredLanguage("")).toBeUndefined();
    expect(preferredLanguage(null)).toBeUndefined();
    expect(preferredLanguage(`${"x;q=0.1,".repeat(200)}ko`)).toBe("x"); // read up to 1 000 characters
  });

  test("botLanguage: Hangul in the question, or an asker who prefers Korean", () => {
    expect(botLanguage("/bot 시간", "en-US")).toBe("ko");
    expect(botLanguage("/bot time", "KO")).toBe("ko");
    expect(botLanguage("/bot time", "kok")).toBe("en"); // Konkani, not Korean
    expect(botLanguage("/bot time", undefined)).toBe("en");
  });
});

describe("bot replies through the app", () => {
  test("a /bot message streams reply-start, reply-deltas, then the stored message with replyId", async () => {
    const app = makeApp({ responder: typewriterResponder({ delayMs: 0 }) });
    const watcher = await watch(app, "/rooms/lobby/events");
    const question = await send(app, "lobby", "/bot echo one two three");
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    const types = watcher.events.map((e) => e.type);
    expect(types).toEqual([
      "presence",
      "message",
      "reply-start",
      "reply-delta",
      "reply-delta",
      "reply-delta",
      "message",
    ]);
    const [start] = dataOf<ReplyStart>(watcher.events, "reply-start");
    expect(start).toEqual({
      replyId: expect.any(String),
      room: "lobby",
      user: "bot",
      inReplyTo: question,
      time: expect.any(String),
      text: "",
    });
    expect(dataOf(watcher.events, "reply-delta")).toEqual([
      { replyId: start!.replyId, delta: "one " },
      { replyId: start!.replyId, delta: "two " },
      { replyId: start!.replyId, delta: "three" },
    ]);
    const final = messagesOf(watcher.events)[1]!;
    expect(final).toEqual({
      id: expect.any(String),
      room: "lobby",
      user: "bot",
      text: "one two three",
      time: expect.any(String),
      replyId: start!.replyId,
    });
    // History and resume show the finished reply, never the deltas.
    const later = await watch(app, "/rooms/lobby/events");
    await later.waitFor((events) => events.some((e) => e.type === "presence"));
    expect(later.events.map((e) => e.type)).toEqual(["message", "message", "presence"]);
    expect(messagesOf(later.events)[1]).toEqual(final);
    await watcher.cancel();
    await later.cancel();
  });

  test("the responder gets the room, the text, recent history ending with the question, and stats", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "earlier", "bob");
    const id = await send(app, "r", "@bot summarise");
    await scripted.called(1);
    const [asked] = scripted.requests;
    expect(asked).toMatchObject({ room: "r", text: "@bot summarise", stats: { messages: 2, subscribers: 1 } });
    expect(asked!.history.map((m) => m.text)).toEqual(["earlier", "@bot summarise"]);
    expect(asked!.history.at(-1)?.id).toBe(id);
    expect(asked!.signal.aborted).toBe(false);
    scripted.end();
    await botMessageCount(app, "r", 1);
    await watcher.cancel();
  });

  test("messages not addressed to the bot get no reply; responder null turns the bot off", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "hello bot");
    await send(app, "r", "/botany is fun");
    const off = makeApp({ responder: null });
    const offWatcher = await watch(off, "/rooms/r/events");
    await send(off, "r", "/bot help");
    await send(app, "r", "sentinel");
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.text === "sentinel"));
    expect(scripted.requests).toHaveLength(0);
    expect(watcher.events.some((e) => e.type === "reply-start")).toBe(false);
    expect(await off.hub.history("r", 10)).toHaveLength(1);
    await watcher.cancel();
    await offWatcher.cancel();
  });

  test("a responder that throws ends the reply with a visible error message; onError gets the cause", async () => {
    const errors: unknown[] = [];
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder, onError: (error) => errors.push(error) });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot go");
    await scripted.called(1);
    scripted.push("partial ");
    scripted.fail(new Error("secret upstream detail"));
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    const final = messagesOf(watcher.events).find((m) => m.user === "bot")!;
    expect(final).toMatchObject({ error: true, text: "partial\n\n[Sorry, something went wrong while answering.]" });
    expect(final.text).not.toContain("secret"); // the cause goes to onError, not to the room
    expect(final.replyId).toBe(dataOf<ReplyStart>(watcher.events, "reply-start")[0]?.replyId);
    expect(errors).toEqual([new Error("secret upstream detail")]);
    await watcher.cancel();
  });

  test("a responder that throws before yielding, or is not iterable, still ends with an error message", async () => {
    const errors: unknown[] = [];
    const app = makeApp({
      responder: (req) => {
        if (req.text.includes("sync")) throw new Error("sync failure");
        return 42 as never;
      },
      onError: (error) => errors.push(error),
    });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot sync");
    await send(app, "r", "/bot not iterable");
    const finals = await botMessageCount(app, "r", 2);
    expect(finals.map((m) => [m.error, m.text])).toEqual([
      [true, "[Sorry, something went wrong while answering.]"],
      [true, "[Sorry, something went wrong while answering.]"],
    ]);
    expect(errors).toHaveLength(2);
    await watcher.cancel();
  });

  test("a hanging responder is cut by the reply timeout with an error message, never a stuck half-reply", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const scripted = scriptedResponder(); // ignores its signal, like a hung upstream
    const app = makeApp({ responder: scripted.responder, replyTimeoutMs: 60_000 });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot hang");
    await scripted.called(1);
    scripted.push("so far");
    await watcher.waitFor((events) => events.some((e) => e.type === "reply-delta"));
    expect(scripted.requests[0]!.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(59_999);
    expect(await botMessages(app, "r")).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    expect(messagesOf(watcher.events).find((m) => m.user === "bot")).toMatchObject({
      error: true,
      text: "so far\n\n[The reply timed out after 60 s.]",
    });
    expect(scripted.requests[0]!.signal.aborted).toBe(true);
    await watcher.cancel();
  });

  test("the asker disconnecting does not cancel a reply others are watching", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const asker = await watch(app, "/rooms/r/events");
    const bystander = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot tell us");
    await scripted.called(1);
    scripted.push("one ");
    await asker.waitFor((events) => events.some((e) => e.type === "reply-delta"));
    await asker.cancel();
    scripted.push("two");
    scripted.end();
    await bystander.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    expect(dataOf(bystander.events, "reply-delta").map((d) => d.delta)).toEqual(["one ", "two"]);
    const final = messagesOf(bystander.events).find((m) => m.user === "bot")!;
    expect(final.text).toBe("one two");
    expect(final.error).toBeUndefined();
    expect(scripted.requests[0]!.signal.aborted).toBe(false);
    await bystander.cancel();
  });

  test("the reply is aborted when the room has no subscribers left, storing what was produced plus a note", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const only = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot long story");
    await scripted.called(1);
    scripted.push("Once upon ");
    await only.waitFor((events) => events.some((e) => e.type === "reply-delta"));
    await only.cancel();
    const [final] = await botMessageCount(app, "r", 1);
    expect(final).toMatchObject({
      user: "bot",
      error: true,
      text: "Once upon\n\n[Stopped: nobody is left in the room.]",
    });
    expect(scripted.requests[0]!.signal.aborted).toBe(true);
    // A comeback sees the stored, finished reply and no running one.
    const back = await watch(app, "/rooms/r/events");
    await back.waitFor((events) => events.some((e) => e.type === "presence"));
    expect(back.events.some((e) => e.type === "reply-start")).toBe(false);
    expect(messagesOf(back.events).at(-1)).toEqual(final);
    await back.cancel();
  });

  test("a question asked while nobody is subscribed gets a note instead of a reply", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    await send(app, "r", "/bot anyone?");
    const [final] = await botMessageCount(app, "r", 1);
    expect(final).toMatchObject({ error: true, text: expect.stringContaining("nobody is") });
    expect(scripted.requests).toHaveLength(0);
  });

  test("a subscriber joining mid-reply gets reply-start with the text so far, then the rest", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const first = await watch(app, "/rooms/r/events");
    const question = await send(app, "r", "/bot count");
    await scripted.called(1);
    scripted.push("one ");
    scripted.push("two ");
    await first.waitFor((events) => dataOf(events, "reply-delta").length === 2);
    const late = await watch(app, "/rooms/r/events");
    await late.waitFor((events) => events.some((e) => e.type === "presence"));
    expect(late.events.map((e) => e.type)).toEqual(["message", "reply-start", "presence"]);
    const [catchUp] = dataOf<ReplyStart>(late.events, "reply-start");
    const [original] = dataOf<ReplyStart>(first.events, "reply-start");
    expect(catchUp).toEqual({ ...original, text: "one two " });
    expect(catchUp?.inReplyTo).toBe(question);
    scripted.push("three");
    scripted.end();
    await late.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    expect(dataOf(late.events, "reply-delta").map((d) => d.delta)).toEqual(["three"]);
    expect(messagesOf(late.events).at(-1)?.text).toBe("one two three");
    await first.cancel();
    await late.cancel();
  });

  test("replies per room are limited: one over the limit gets a busy message", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder, maxRepliesPerRoom: 1 });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot first");
    await send(app, "r", "/bot second");
    const [busy] = await botMessageCount(app, "r", 1);
    expect(busy).toMatchObject({ error: true, text: expect.stringContaining("already answering 1") });
    expect(scripted.requests.map((r) => r.text)).toEqual(["/bot first"]);
    // Another room has its own allowance.
    const other = await watch(app, "/rooms/s/events");
    await send(app, "s", "/bot elsewhere");
    await scripted.called(2);
    scripted.end();
    scripted.end();
    await botMessageCount(app, "s", 1);
    await watcher.cancel();
    await other.cancel();
  });

  test("a reply longer than maxReplyChars is cut with a note (not an error) and the responder stopped", async () => {
    let returned = false;
    const app = makeApp({
      maxReplyChars: 10,
      responder: () => ({
        [Symbol.asyncIterator]: () => ({
          next: async () => ({ done: false, value: "abcd" }), // endless
          return: async () => {
            returned = true;
            return { done: true, value: undefined };
          },
        }),
      }),
    });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot ramble");
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    expect(dataOf(watcher.events, "reply-delta").map((d) => d.delta)).toEqual(["abcd", "abcd", "ab"]);
    const final = messagesOf(watcher.events).at(-1)!;
    expect(final.text).toBe("abcdabcdab\n\n[Cut at 10 characters.]");
    expect(final.error).toBeUndefined();
    expect(returned).toBe(true);
    await watcher.cancel();
  });

  test("the length cut never splits a surrogate pair", async () => {
    const app = makeApp({
      maxReplyChars: 5,
      responder: async function* () {
        yield "abcd😀 more";
      },
    });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot emoji");
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    expect(messagesOf(watcher.events).at(-1)?.text).toBe("abcd\n\n[Cut at 5 characters.]");
    await watcher.cancel();
  });

  test("close() stops running replies, stores them with a note, then ends the streams", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot keep going");
    await scripted.called(1);
    scripted.push("partial");
    await watcher.waitFor((events) => events.some((e) => e.type === "reply-delta"));
    await app.close();
    await watcher.waitForEnd();
    expect(messagesOf(watcher.events).at(-1)).toMatchObject({
      user: "bot",
      error: true,
      text: "partial\n\n[Stopped: the server is shutting down.]",
    });
    expect(scripted.requests[0]!.signal.aborted).toBe(true);
  });

  test("an empty answer is stored as a note, not as an empty message", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder });
    const watcher = await watch(app, "/rooms/r/events");
    await send(app, "r", "/bot silence");
    await scripted.called(1);
    scripted.end();
    const [final] = await botMessageCount(app, "r", 1);
    expect(final?.text).toBe("[I have no answer to that.]");
    expect(final?.error).toBeUndefined();
    await watcher.cancel();
  });
});

describe("bounds on bot work", () => {
  test("chunks arriving within replyDeltaMs go out as one reply-delta; the final message has every word", async () => {
    const app = makeApp({ replyDeltaMs: 60_000, typewriterMs: 0 });
    const watcher = await watch(app, "/rooms/r/events");
    const words = Array.from({ length: 500 }, (_, i) => `w${i}`);
    await send(app, "r", `/bot echo ${words.join(" ")}`);
    await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    const deltas = dataOf(watcher.events, "reply-delta").map((d) => d.delta as string);
    // The first chunk at once, then everything that came within the (long) interval in one event.
    expect(deltas.length).toBe(2);
    expect(deltas.join("")).toBe(words.join(" "));
    expect(messagesOf(watcher.events).find((m) => m.user === "bot")?.text).toBe(words.join(" "));
  });

  test("past maxReplies running on the whole server, a new question gets the busy note", async () => {
    const scripted = scriptedResponder();
    const app = makeApp({ responder: scripted.responder, maxReplies: 2, maxRepliesPerRoom: 5 });
    const watchers = await Promise.all(["a", "b", "c"].map((room) => watch(app, `/rooms/${room}/events`)));
    await send(app, "a", "/bot one");
    await send(app, "b", "/bot two");
    await send(app, "c", "/bot three"); // a third room, but the server already runs two
    await watchers[2]!.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
    const busy = messagesOf(watchers[2]!.events).find((m) => m.user === "bot")!;
    expect(busy).toMatchObject({
      error: true,
      text: "I'm answering too many messages right now; ask again in a moment.",
    });
    await scripted.called(2);
    expect(scripted.requests.map((request) => request.text)).toEqual(["/bot one", "/bot two"]);
  });
});
