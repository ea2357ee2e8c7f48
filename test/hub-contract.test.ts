/**
 * One contract, two hubs: the same tests run unchanged against the in-memory hub and the Redis
 * hub (on a real redis-server), so the two cannot drift. Ordering, gap-free resume, reset on
 * stale and foreign cursors, trimming, running replies, presence, unsubscribing and closing.
 * Ids are opaque here: only what the protocol promises is checked. No sleeps: conditions are
 * awaited with a deadline.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { createMemoryHub, createRedisHub, type Hub, HubClosedError, type MemoryHubOptions } from "../core/chat/mod.ts";
import { InvalidCursorError, KeyReusedError, type PresenceUser } from "../core/chat/hub.ts";
import type { EventMessage } from "../core/mod.ts";
import { connectRedis } from "../redis/mod.ts";
import { drain, flushHub as flush, messagesIn as messages, publishMany } from "./_chat.ts";
import { haveRedis, type RedisServer, removeRedis, startRedis } from "./_redis.ts";
import { waitFor } from "./_server.ts";

const TIME = "2025-01-01T00:00:00.000Z";
const input = (text: string, user = "alice") => ({ user, text, time: TIME });

type HubOptions = Pick<
  MemoryHubOptions,
  "historySize" | "replayCount" | "queueLimit" | "presenceIntervalMs" | "typingIntervalMs"
>;
type Flavour = { name: string; make(options?: HubOptions): Promise<Hub> };

let redis: RedisServer | undefined;
let prefixes = 0;
const opened: Hub[] = [];

const flavours: Flavour[] = [
  { name: "memory hub", make: async (options = {}) => track(createMemoryHub(options)) },
  {
    name: "redis hub",
    make: async (options = {}) =>
      track(
        createRedisHub({
          ...options,
          redis: await connectRedis(redis!.url),
          keyPrefix: `contract${++prefixes}`,
          syncIntervalMs: 200,
          onError: (error) => console.error(error),
        }),
      ),
  },
];

function track(hub: Hub): Hub {
  opened.push(hub);
  return hub;
}

beforeAll(async () => {
  // One entry per stream node: `MAXLEN ~` then trims exactly, as the memory hub's ring does.
  if (haveRedis()) redis = await startRedis({ settings: { "stream-node-max-entries": "1" } });
}, 20_000);

afterAll(async () => {
  await Promise.allSettled(opened.map((hub) => hub.close()));
  await removeRedis(redis);
});

const presenceCounts = (items: readonly EventMessage[]): number[] =>
  items.filter((i) => i.event === "presence").map((i) => JSON.parse(i.data!).subscribers as number);
type PresenceData = { room: string; subscribers: number; users: PresenceUser[] };
const presences = (items: readonly EventMessage[]): PresenceData[] =>
  items.filter((i) => i.event === "presence").map((i) => JSON.parse(i.data!) as PresenceData);
const typings = (items: readonly EventMessage[]): EventMessage[] => items.filter((i) => i.event === "typing");

describe.each(flavours)("$name", (flavour) => {
  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "ids are unique and increase; messages arrive in order with the message as data, after the joiner's presence",
    async () => {
      const hub = await flavour.make();
      const reader = drain(await hub.subscribe("lobby"));
      const published = await publishMany(hub, "lobby", 50);
      expect(new Set(published.map((m) => m.id)).size).toBe(50);
      await reader.waitFor((items) => messages(items).length === 50);
      const frames = reader.items.filter((item) => item.event === undefined);
      expect(frames.map((f) => f.id)).toEqual(published.map((m) => m.id));
      expect(messages(reader.items)).toEqual(published);
      expect(published[0]).toEqual({ id: published[0]!.id, room: "lobby", user: "alice", text: "m1", time: TIME });
      expect(Object.keys(published[0]!)).toEqual(["id", "room", "user", "text", "time"]);
      expect(reader.items[0]).toEqual({ event: "presence", data: '{"room":"lobby","subscribers":1,"users":[]}' });
      // Each room has its own ids: a cursor of one room is foreign to another.
      const other = await hub.publish("other", input("x"));
      expect(published.map((m) => m.id)).not.toContain(other.id);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "publishOnce stores a key's message once: a retry, even racing, gets it back; another text under the key is refused",
    async () => {
      const hub = await flavour.make();
      const reader = drain(await hub.subscribe("keys"));
      const first = await hub.publishOnce!("keys", { ...input("hello"), userId: "u1" }, "u1:k1");
      expect(first.replayed).toBe(false);
      expect(first.message).toMatchObject({ room: "keys", user: "alice", userId: "u1", text: "hello", time: TIME });
      // The retry comes later (another server time): the first message is answered, as it was stored.
      const later = { ...input("hello"), userId: "u1", time: "2025-01-01T00:00:05.000Z" };
      expect(await hub.publishOnce!("keys", later, "u1:k1")).toEqual({ message: first.message, replayed: true });
      const racing = await Promise.all([1, 2, 3].map(() => hub.publishOnce!("keys", input("race"), "u1:k2")));
      expect(racing.filter((result) => !result.replayed)).toHaveLength(1);
      expect(new Set(racing.map((result) => result.message.id)).size).toBe(1);
      await expect(hub.publishOnce!("keys", input("another text"), "u1:k1")).rejects.toBeInstanceOf(KeyReusedError);
      await expect(hub.publishOnce!("keys", input("hello", "bob"), "u1:k1")).rejects.toBeInstanceOf(KeyReusedError);
      // A key belongs to its room; the same text under a new key is a new message.
      const elsewhere = await hub.publishOnce!("other", input("hello"), "u1:k1");
      expect(elsewhere.replayed).toBe(false);
      const again = await hub.publishOnce!("keys", input("hello"), "u1:k3");
      expect(again.replayed).toBe(false);
      const sentinel = await flush(hub, "keys", reader); // nothing more is on its way
      const ids = [first.message.id, racing[0]!.message.id, again.message.id, sentinel.id];
      expect(messages(reader.items).map((m) => m.id)).toEqual(ids);
      expect((await hub.history("keys", 10)).map((m) => m.text)).toEqual(["hello", "race", "hello", "sentinel"]);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "resume by cursor replays exactly the messages after it, then live ones, without loss or duplicate",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 1, max: 16 }),
          fc.integer({ min: 0, max: 3 }),
          fc.nat(),
          async (historySize, stored, live, cursorPick) => {
            const hub = await flavour.make({ historySize });
            const before = await publishMany(hub, "r", stored);
            const cursorIndex = cursorPick % stored; // the cursor is before[cursorIndex]
            const reader = drain(await hub.subscribe("r", { after: before[cursorIndex]!.id }));
            const after = await publishMany(hub, "r", live, stored + 1);
            const sentinel = await flush(hub, "r", reader);
            const oldestIndex = Math.max(0, stored - historySize);
            const truncated = cursorIndex < oldestIndex - 1;
            const expected = [...before.slice(truncated ? oldestIndex : cursorIndex + 1), ...after, sentinel];
            expect(messages(reader.items).map((m) => m.id)).toEqual(expected.map((m) => m.id));
            const resets = reader.items.filter((item) => item.event === "reset");
            expect(resets.length).toBe(truncated ? 1 : 0);
            if (truncated) expect(reader.items[0]?.event).toBe("reset");
            await hub.close();
          },
        ),
        { seed: 0xc4a7, numRuns: flavour.name === "redis hub" ? 40 : 150 },
      );
    },
    60_000,
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "a stale cursor gets reset (history-truncated, oldestId) first, then the retained history",
    async () => {
      const hub = await flavour.make({ historySize: 5 });
      const all = await publishMany(hub, "r", 12);
      const reader = drain(await hub.subscribe("r", { after: all[2]!.id }));
      await reader.waitFor((items) => messages(items).length === 5);
      expect(reader.items[0]).toEqual({
        event: "reset",
        data: JSON.stringify({ reason: "history-truncated", lastEventId: all[2]!.id, oldestId: all[7]!.id }),
      });
      expect(messages(reader.items).map((m) => m.text)).toEqual(["m8", "m9", "m10", "m11", "m12"]);
      // The cursor just before the oldest retained message lost nothing: no reset.
      const exact = drain(await hub.subscribe("r", { after: all[6]!.id }));
      await exact.waitFor((items) => messages(items).length === 5);
      expect(exact.items.some((item) => item.event === "reset")).toBe(false);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "a cursor from another room, a malformed one or one never issued gets reset unknown-cursor",
    async () => {
      const hub = await flavour.make({ historySize: 3 });
      const all = await publishMany(hub, "r", 4);
      const foreign = (await hub.publish("elsewhere", input("x"))).id;
      const last = all[3]!.id;
      // Never issued: the last id with its final number raised.
      const neverIssued = last.replace(/\d+$/, (n) => String(Number(n) + 99));
      for (const cursor of [foreign, "garbage", neverIssued, `${last}-`, "-3", ""]) {
        if (cursor === "") continue;
        const reader = drain(await hub.subscribe("r", { after: cursor }));
        await reader.waitFor((items) => messages(items).length === 3, cursor);
        expect(JSON.parse(reader.items[0]!.data!)).toEqual({
          reason: "unknown-cursor",
          lastEventId: cursor,
          oldestId: all[1]!.id,
        });
        expect(messages(reader.items).map((m) => m.text)).toEqual(["m2", "m3", "m4"]);
      }
      const empty = drain(await hub.subscribe("fresh", { after: "x-1" }));
      await empty.waitFor((items) => items.length >= 1);
      expect(JSON.parse(empty.items[0]!.data!)).toEqual({
        reason: "unknown-cursor",
        lastEventId: "x-1",
        oldestId: null,
      });
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())("a huge cursor is echoed truncated in reset", async () => {
    const hub = await flavour.make();
    const reader = drain(await hub.subscribe("r", { after: "z".repeat(10_000) }));
    await reader.waitFor((items) => items.length >= 1);
    expect(JSON.parse(reader.items[0]!.data!).lastEventId).toBe("z".repeat(128));
  });

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "history keeps the latest historySize messages; replay takes the latest n; room() counts",
    async () => {
      const hub = await flavour.make({ historySize: 5, replayCount: 3 });
      await publishMany(hub, "r", 12);
      expect((await hub.history("r", 100)).map((m) => m.text)).toEqual(["m8", "m9", "m10", "m11", "m12"]);
      expect((await hub.history("r", 2)).map((m) => m.text)).toEqual(["m11", "m12"]);
      expect(await hub.history("nowhere", 5)).toEqual([]);
      expect(await hub.room("r")).toEqual({ room: "r", subscribers: 0, messages: 12 });
      expect(await hub.room("nowhere")).toBeUndefined();
      const byDefault = drain(await hub.subscribe("r"));
      const asked = drain(await hub.subscribe("r", { replay: 50 }));
      const none = drain(await hub.subscribe("r", { replay: 0 }));
      await flush(hub, "r", none);
      await byDefault.waitFor((items) => messages(items).some((m) => m.text === "sentinel"));
      await asked.waitFor((items) => messages(items).some((m) => m.text === "sentinel"));
      expect(messages(byDefault.items).map((m) => m.text)).toEqual(["m10", "m11", "m12", "sentinel"]);
      expect(messages(asked.items).map((m) => m.text)).toEqual(["m8", "m9", "m10", "m11", "m12", "sentinel"]);
      expect(messages(none.items).map((m) => m.text)).toEqual(["sentinel"]);
      const listed = await hub.rooms();
      expect(listed.find((info) => info.room === "r")).toEqual({ room: "r", subscribers: 3, messages: 13 });
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "a subscriber joining mid-reply gets reply-start with the text so far, after the replay; the final message ends it",
    async () => {
      const hub = await flavour.make();
      const question = await hub.publish("r", input("/bot hi"));
      const start = {
        type: "reply-start",
        replyId: "r1",
        room: "r",
        user: "bot",
        inReplyTo: question.id,
        time: TIME,
        text: "",
      } as const;
      const early = drain(await hub.subscribe("r", { replay: 0 }));
      await hub.emit("r", start);
      await hub.emit("r", { type: "reply-delta", replyId: "r1", delta: "Hello " });
      await hub.emit("r", { type: "reply-delta", replyId: "r1", delta: "there" });
      await hub.emit("r", { type: "reply-delta", replyId: "unknown", delta: "ignored" });
      await hub.emit("nowhere", { type: "reply-delta", replyId: "r1", delta: "ignored" });
      const late = drain(await hub.subscribe("r"));
      await late.waitFor((items) => presenceCounts(items).includes(2));
      expect(late.items.map((i) => i.event ?? "message")).toEqual(["message", "reply-start", "presence"]);
      expect(JSON.parse(late.items[1]!.data!)).toEqual({
        replyId: "r1",
        room: "r",
        user: "bot",
        inReplyTo: question.id,
        time: TIME,
        text: "Hello there",
      });
      await hub.emit("r", { type: "reply-delta", replyId: "r1", delta: "!" });
      await late.waitFor((items) => items.some((i) => i.event === "reply-delta"));
      expect(JSON.parse(late.items.at(-1)!.data!)).toEqual({ replyId: "r1", delta: "!" });
      // The early subscriber saw the whole reply live, in order, and nothing of the unknown one.
      await early.waitFor((items) => items.filter((i) => i.event === "reply-delta").length === 3);
      expect(
        early.items.filter((i) => i.event?.startsWith("reply")).map((i) => JSON.parse(i.data!).delta ?? "start"),
      ).toEqual(["start", "Hello ", "there", "!"]);
      // The final message ends the reply: later subscribers only see the stored message.
      await hub.publish("r", { user: "bot", text: "Hello there!", time: TIME, replyId: "r1" });
      const after = drain(await hub.subscribe("r"));
      await flush(hub, "r", after);
      expect(after.items.some((i) => i.event === "reply-start")).toBe(false);
      expect(messages(after.items).map((m) => m.replyId)).toEqual([undefined, "r1", undefined]);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "presence: subscribers hear the count; onPresence reports joins and leaves with the new count",
    async () => {
      const hub = await flavour.make({ presenceIntervalMs: 0 });
      const seen: string[] = [];
      const stop = hub.onPresence((event) => seen.push(`${event.room}:${event.subscribers}`));
      const a = drain(await hub.subscribe("r"));
      const b = await hub.subscribe("r");
      await a.waitFor((items) => presenceCounts(items).includes(2));
      await b.return();
      await a.waitFor((items) => presenceCounts(items).join() === "1,2,1");
      stop();
      expect(seen).toEqual(["r:1", "r:2", "r:1"]);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "page: the newest retained messages, then older ones by before, oldest first; hasMore, complete and oldestId",
    async () => {
      const hub = await flavour.make({ historySize: 5 });
      expect(await hub.page("nowhere", { limit: 10 })).toEqual({
        messages: [],
        hasMore: false,
        complete: true,
        oldestId: null,
      });
      const all = await publishMany(hub, "r", 3);
      const newest = await hub.page("r", { limit: 2 });
      expect(newest).toEqual({ messages: all.slice(1), hasMore: true, complete: true, oldestId: all[0]!.id });
      expect(await hub.page("r", { before: all[1]!.id, limit: 2 })).toEqual({
        messages: [all[0]],
        hasMore: false,
        complete: true,
        oldestId: all[0]!.id,
      });
      expect(await hub.page("r", { before: all[0]!.id, limit: 2 })).toMatchObject({ messages: [], hasMore: false });
      // The page holds the messages as stored: what a subscriber's replay shows.
      const reader = drain(await hub.subscribe("r", { replay: 3 }));
      await reader.waitFor((items) => messages(items).length === 3);
      expect(messages(reader.items)).toEqual((await hub.page("r", { limit: 50 })).messages);

      // Trimmed: retained m8..m12, the first message gone for good.
      all.push(...(await publishMany(hub, "r", 9, 4)));
      const trimmed = await hub.page("r", { limit: 50 });
      expect(trimmed.messages.map((m) => m.text)).toEqual(["m8", "m9", "m10", "m11", "m12"]);
      expect(trimmed).toMatchObject({ hasMore: false, complete: false, oldestId: all[7]!.id });
      expect(await hub.page("r", { before: all[9]!.id, limit: 1 })).toEqual({
        messages: [all[8]],
        hasMore: true,
        complete: false,
        oldestId: all[7]!.id,
      });
      // A cursor older than what is retained: nothing older is left.
      expect(await hub.page("r", { before: all[2]!.id, limit: 5 })).toMatchObject({ messages: [], hasMore: false });
      // One of the right shape never issued (past the newest): everything older than it, i.e. the newest.
      const beyond = all[11]!.id.replace(/\d+$/, (n) => String(Number(n) + 99));
      expect((await hub.page("r", { before: beyond, limit: 2 })).messages.map((m) => m.text)).toEqual(["m11", "m12"]);
      // Another room's id (another life of the room): an empty page, not an error.
      const foreign = (await hub.publish("elsewhere", input("x"))).id;
      expect(await hub.page("r", { before: foreign, limit: 5 })).toEqual({
        messages: [],
        hasMore: false,
        complete: false,
        oldestId: all[7]!.id,
      });
      for (const malformed of ["garbage", "", "-3", `${all[0]!.id}-`]) {
        await expect(hub.page("r", { before: malformed, limit: 5 }), malformed).rejects.toBeInstanceOf(
          InvalidCursorError,
        );
      }
      await expect(hub.page("r", { limit: 0 })).rejects.toBeInstanceOf(RangeError);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "page walks the whole retained history back, each message once, whatever the page size",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.integer({ min: 0, max: 14 }),
          fc.integer({ min: 1, max: 5 }),
          async (historySize, stored, limit) => {
            const hub = await flavour.make({ historySize });
            const all = await publishMany(hub, "r", stored);
            const seen = [];
            let before: string | undefined;
            for (let pages = 0; pages <= stored; pages++) {
              const page = await hub.page("r", before === undefined ? { limit } : { before, limit });
              expect(page.messages.length).toBeLessThanOrEqual(limit);
              seen.unshift(...page.messages);
              expect(page.complete).toBe(stored <= historySize);
              expect(page.oldestId).toBe(all[Math.max(0, stored - historySize)]?.id ?? null);
              if (!page.hasMore) break;
              before = page.messages[0]!.id;
            }
            expect(seen).toEqual(all.slice(Math.max(0, stored - historySize)));
            await hub.close();
          },
        ),
        { seed: 0x9a6e, numRuns: flavour.name === "redis hub" ? 25 : 100 },
      );
    },
    60_000,
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "typing reaches the room's subscribers without an id, once per person per interval, and is never stored or replayed",
    async () => {
      const hub = await flavour.make();
      const a = drain(await hub.subscribe("r"));
      const b = drain(await hub.subscribe("r"));
      const first = await hub.publish("r", input("m1"));
      expect(await hub.typing("r", { userId: "u1", user: "ann" })).toBe(true);
      expect(await hub.typing("r", { userId: "u1", user: "ann" })).toBe(false); // absorbed
      expect(await hub.typing("r", { userId: "u1", user: "Ann again" })).toBe(false); // the same person
      expect(await hub.typing("r", { userId: "u2", user: "bo" })).toBe(true);
      const second = await hub.publish("r", input("m2"));
      for (const reader of [a, b]) {
        await reader.waitFor((items) => messages(items).length === 2 && typings(items).length === 2);
        expect(typings(reader.items)).toEqual([
          { event: "typing", data: JSON.stringify({ room: "r", user: "ann", userId: "u1" }) },
          { event: "typing", data: JSON.stringify({ room: "r", user: "bo", userId: "u2" }) },
        ]);
        expect(typings(reader.items).every((item) => item.id === undefined)).toBe(true);
        // Messages keep their order and ids around them: typing is outside the numbered order.
        expect(messages(reader.items).map((m) => m.id)).toEqual([first.id, second.id]);
        expect(reader.items.some((item) => item.event === "reset")).toBe(false);
      }
      expect((await hub.page("r", { limit: 50 })).messages.map((m) => m.text)).toEqual(["m1", "m2"]);
      const late = drain(await hub.subscribe("r", { after: first.id }));
      await flush(hub, "r", late);
      expect(typings(late.items)).toEqual([]);
      expect(late.items.some((item) => item.event === "reset")).toBe(false);
      // In another room, the same person is not throttled.
      drain(await hub.subscribe("s"));
      expect(await hub.typing("s", { userId: "u1", user: "ann" })).toBe(true);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "typing again after the interval is sent again",
    async () => {
      const hub = await flavour.make({ typingIntervalMs: 50 });
      const reader = drain(await hub.subscribe("r"));
      expect(await hub.typing("r", { userId: "u1", user: "ann" })).toBe(true);
      await waitFor(() => hub.typing("r", { userId: "u1", user: "ann" }), { what: "a second typing event" });
      await reader.waitFor((items) => typings(items).length === 2);
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "presence lists the named people: one entry per user id under its smallest name, by name, at most 50; the unnamed are counted",
    async () => {
      const hub = await flavour.make({ presenceIntervalMs: 0 });
      const reader = drain(await hub.subscribe("r"));
      const bo = await hub.subscribe("r", { who: { userId: "u2", user: "bo" } });
      const zed = await hub.subscribe("r", { who: { userId: "u1", user: "zed" } });
      const ann = await hub.subscribe("r", { who: { userId: "u1", user: "ann" } }); // u1's second tab
      await reader.waitFor((items) => presenceCounts(items).includes(4));
      expect(presences(reader.items).at(-1)).toEqual({
        room: "r",
        subscribers: 4,
        users: [
          { userId: "u1", user: "ann" },
          { userId: "u2", user: "bo" },
        ],
      });
      await ann.return();
      await reader.waitFor((items) => presenceCounts(items).at(-1) === 3);
      expect(presences(reader.items).at(-1)?.users).toEqual([
        { userId: "u2", user: "bo" },
        { userId: "u1", user: "zed" },
      ]);
      await zed.return();
      await bo.return();
      await reader.waitFor((items) => presenceCounts(items).at(-1) === 1);
      expect(presences(reader.items).at(-1)?.users).toEqual([]);

      // 60 people: the first 50 by name are listed, everyone is counted.
      const crowd = [];
      for (let i = 59; i >= 0; i--) {
        crowd.push(await hub.subscribe("r", { who: { userId: `p${i}`, user: `n${String(i).padStart(2, "0")}` } }));
      }
      await reader.waitFor((items) => presenceCounts(items).at(-1) === 61);
      const listed = presences(reader.items).at(-1)!.users;
      expect(listed).toHaveLength(50);
      expect(listed.map((u) => u.user)).toEqual(Array.from({ length: 50 }, (_, i) => `n${String(i).padStart(2, "0")}`));
      for (const subscription of crowd) await subscription.return();
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "return() unsubscribes at once while a next() is pending; an aborted signal ends it; an already aborted one never joins",
    async () => {
      const hub = await flavour.make();
      const subscription = await hub.subscribe("r", { replay: 0 });
      await subscription.next(); // its own presence event
      const pending = subscription.next();
      expect((await hub.room("r"))?.subscribers).toBe(1);
      const returned = subscription.return();
      expect((await hub.stats()).subscribers).toBe(0);
      expect(await pending).toEqual({ done: true, value: undefined });
      expect(await returned).toEqual({ done: true, value: undefined });
      await subscription.return(); // idempotent
      await hub.publish("r", input("after"));
      expect(await subscription.next()).toEqual({ done: true, value: undefined });

      const controller = new AbortController();
      const watched = drain(await hub.subscribe("r", { signal: controller.signal }));
      expect((await hub.stats()).subscribers).toBe(1);
      controller.abort();
      await watched.waitFor(() => watched.done.value, "the end");
      expect((await hub.stats()).subscribers).toBe(0);
      const aborted = await hub.subscribe("s", { signal: AbortSignal.abort() });
      expect(await aborted.next()).toEqual({ done: true, value: undefined });
      expect(await hub.room("s")).toBeUndefined();
    },
  );

  test.skipIf(flavour.name === "redis hub" && !haveRedis())(
    "close() ends every subscription and refuses further use",
    async () => {
      const hub = await flavour.make();
      const readers = await Promise.all(["a", "b"].map(async (room) => drain(await hub.subscribe(room))));
      await hub.close();
      for (const reader of readers) await reader.waitFor(() => reader.done.value, "the end");
      await expect(hub.publish("a", input("x"))).rejects.toBeInstanceOf(HubClosedError);
      await expect(hub.subscribe("a")).rejects.toBeInstanceOf(HubClosedError);
      expect(await hub.stats()).toMatchObject({ rooms: 0, subscribers: 0 });
    },
  );
});
