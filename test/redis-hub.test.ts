/**
 * What only the Redis hub has to survive, on a real redis-server: several instances (hubs) on one
 * Redis, a killed pub/sub connection, a notification that never arrived, Redis restarted with its
 * AOF and restarted empty, an instance dying mid-reply, presence across instances. What every hub
 * promises is in hub-contract.test.ts. No sleeps: conditions are awaited with a deadline.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import {
  type ChatMessage,
  createRedisHub,
  type Hub,
  HubUnavailableError,
  type RedisConnection,
  type RedisHubOptions,
} from "../core/chat/mod.ts";
import type { EventMessage } from "../core/mod.ts";
import type { PresenceUser, ReplyStartEvent } from "../core/chat/hub.ts";
import { connectRedis } from "../redis/mod.ts";
import { drain } from "./_chat.ts";
import { haveRedis, type RedisServer, removeRedis, startRedis } from "./_redis.ts";
import { waitFor } from "./_server.ts";

const TIME = "2025-01-01T00:00:00.000Z";
const input = (text: string, user = "alice") => ({ user, text, time: TIME });

let shared: RedisServer | undefined;
let prefixes = 0;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  if (haveRedis()) shared = await startRedis();
}, 20_000);

afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

afterAll(async () => {
  await removeRedis(shared);
});

/** Hubs of one chat: same Redis, same prefix, each with its own connections (an instance each). */
async function instances(
  server: RedisServer,
  count: number,
  options: Partial<RedisHubOptions> = {},
): Promise<{ hubs: Hub[]; connections: RedisConnection[]; prefix: string }> {
  const prefix = `hub${++prefixes}`;
  const connections: RedisConnection[] = [];
  const hubs: Hub[] = [];
  for (let i = 0; i < count; i++) {
    const redis = await connectRedis(server.url, { onError: () => {} });
    connections.push(redis);
    const hub = createRedisHub({ syncIntervalMs: 100, presenceIntervalMs: 0, ...options, redis, keyPrefix: prefix });
    hubs.push(hub);
    cleanups.push(() => hub.close());
  }
  return { hubs, connections, prefix };
}

function usersIn(items: readonly EventMessage[]): PresenceUser[] | undefined {
  const last = items.filter((item) => item.event === "presence").at(-1);
  return last === undefined ? undefined : (JSON.parse(last.data!).users as PresenceUser[]);
}

function messages(items: readonly EventMessage[]): ChatMessage[] {
  return items.filter((item) => item.event === undefined).map((item) => JSON.parse(item.data!) as ChatMessage);
}

/** Publishes until one succeeds (Redis coming back), for at most `timeoutMs`. */
async function publishWhenUp(hub: Hub, room: string, text: string, timeoutMs = 10_000): Promise<ChatMessage> {
  return waitFor(
    async () => {
      try {
        return await hub.publish(room, input(text));
      } catch (error) {
        if (error instanceof HubUnavailableError) return undefined;
        throw error;
      }
    },
    { timeoutMs, intervalMs: 50, what: `a publish of "${text}" to succeed` },
  );
}

/**
 * Stores a message in a room's stream as the publish script would, but notifies nobody: what an
 * instance sees when a pub/sub message is lost. Returns its entry id.
 */
async function ghost(prefix: string, room: string, text: string): Promise<string> {
  const meta = `${prefix}:{${room}}:m`;
  const n = /:(\d+)/.exec(await shared!.raw("HINCRBY", meta, "n", "1"))![1]!;
  const last = /\r\n(\S+)\r\n/.exec(await shared!.raw("HGET", meta, "last"))![1]!;
  const data = JSON.stringify({ room, user: "ghost", text, time: TIME });
  const reply = await shared!.raw("XADD", `${prefix}:{${room}}:s`, "*", "d", data, "p", last, "n", n);
  const entry = /\r\n(\S+)\r\n/.exec(reply)![1]!;
  await shared!.raw("HSET", meta, "last", entry);
  return entry;
}

/** A reply-start event of the bot in `room`, answering `inReplyTo`. */
function start(room: string, replyId: string, inReplyTo: string): ReplyStartEvent {
  return { type: "reply-start", replyId, room, user: "bot", inReplyTo, time: TIME, text: "" };
}

describe.skipIf(!haveRedis())("redis hub", () => {
  test("a client on one instance receives what is posted to the other, in the same order with the same ids", async () => {
    const { hubs } = await instances(shared!, 2);
    const [a, b] = hubs as [Hub, Hub];
    const onA = drain(await a.subscribe("r"));
    const onB = drain(await b.subscribe("r"));
    const published: ChatMessage[] = [];
    for (let i = 0; i < 40; i++) published.push(await (i % 2 === 0 ? a : b).publish("r", input(`m${i}`)));
    for (const reader of [onA, onB]) await reader.waitFor((items) => messages(items).length === 40);
    expect(messages(onA.items)).toEqual(published);
    expect(messages(onB.items)).toEqual(published);
  });

  test("a notification that never arrived is read back from the stream before anything newer", async () => {
    const { hubs, prefix } = await instances(shared!, 1);
    const hub = hubs[0]!;
    const reader = drain(await hub.subscribe("r"));
    const first = await hub.publish("r", input("first"));
    await reader.waitFor((items) => messages(items).length === 1);
    // A message stored without its notification reaching anyone, as a lost pub/sub message would be.
    const entry = await ghost(prefix, "r", "unheard");
    const third = await hub.publish("r", input("third"));
    await reader.waitFor((items) => messages(items).length === 3);
    expect(messages(reader.items).map((m) => m.text)).toEqual(["first", "unheard", "third"]);
    expect(messages(reader.items).map((m) => m.id)).toEqual([first.id, `${first.id.split("-")[0]}-${entry}`, third.id]);
  });

  test("the pub/sub connection killed while another instance publishes: the gap is filled, nothing lost or repeated", async () => {
    const { hubs, prefix } = await instances(shared!, 2);
    const [a, b] = hubs as [Hub, Hub];
    const reader = drain(await a.subscribe("r"));
    const published: ChatMessage[] = [];
    for (let i = 0; i < 60; i++) {
      if (i === 20 || i === 40) await shared!.raw("CLIENT", "KILL", "TYPE", "pubsub");
      published.push(await b.publish("r", input(`m${i}`)));
    }
    await reader.waitFor((items) => messages(items).length >= 60, "all 60 messages");
    expect(messages(reader.items).map((m) => m.id)).toEqual(published.map((m) => m.id));
    // A message nobody heard of, then a kill and nothing after it: only the reconnect itself can
    // make the instance look, since no later notification will reveal the gap.
    await ghost(prefix, "r", "unheard");
    await shared!.raw("CLIENT", "KILL", "TYPE", "pubsub");
    await reader.waitFor((items) => messages(items).length === 61, "the message stored during the outage");
    expect(messages(reader.items).at(-1)?.text).toBe("unheard");
  });

  test("a client joining on another instance mid-reply gets reply-start with the text so far", async () => {
    const { hubs } = await instances(shared!, 2);
    const [a, b] = hubs as [Hub, Hub];
    const question = await a.publish("r", input("/bot hi"));
    await a.emit("r", {
      type: "reply-start",
      replyId: "x1",
      room: "r",
      user: "bot",
      inReplyTo: question.id,
      time: TIME,
      text: "",
    });
    await a.emit("r", { type: "reply-delta", replyId: "x1", delta: "안녕" });
    const late = drain(await b.subscribe("r"));
    await late.waitFor((items) => items.some((i) => i.event === "reply-start"));
    expect(JSON.parse(late.items.find((i) => i.event === "reply-start")!.data!).text).toBe("안녕");
    await a.emit("r", { type: "reply-delta", replyId: "x1", delta: "하세요" });
    await late.waitFor((items) => items.some((i) => i.event === "reply-delta"));
    expect(JSON.parse(late.items.find((i) => i.event === "reply-delta")!.data!)).toEqual({
      replyId: "x1",
      delta: "하세요",
    });
  });

  test("a reply whose instance died is ended once, with an error message stored by another instance", async () => {
    const { hubs, connections } = await instances(shared!, 3, { replyLeaseMs: 300 });
    const [dying, b, c] = hubs as [Hub, Hub, Hub];
    const question = await b.publish("r", input("/bot echo a long answer"));
    const onB = drain(await b.subscribe("r", { replay: 0 }));
    const onC = drain(await c.subscribe("r", { replay: 0 }));
    await dying.emit("r", {
      type: "reply-start",
      replyId: "gone",
      room: "r",
      user: "bot",
      inReplyTo: question.id,
      time: TIME,
      text: "",
    });
    await dying.emit("r", { type: "reply-delta", replyId: "gone", delta: "a long" });
    // A second reply, in Korean: its note is Korean too.
    await dying.emit("r", { ...start("r", "사라짐", question.id) });
    await dying.emit("r", { type: "reply-delta", replyId: "사라짐", delta: "긴 답이" });
    // The instance vanishes without a word: its connections drop, it renews nothing any more.
    await connections[0]!.close();
    for (const reader of [onB, onC]) {
      await reader.waitFor((items) => messages(items).some((m) => m.replyId === "gone"), "the ended reply");
    }
    const ended = messages(onB.items).filter((m) => m.replyId === "gone");
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ room: "r", user: "bot", replyId: "gone", error: true });
    expect(ended[0]!.text).toMatch(/^a long\n\n\[The reply was cut off/);
    await onB.waitFor((items) => messages(items).some((m) => m.replyId === "사라짐"), "the Korean reply");
    expect(messages(onB.items).find((m) => m.replyId === "사라짐")?.text).toBe(
      "긴 답이\n\n[답이 끊겼어요: 답을 쓰던 서버가 멈췄어요.]",
    );
    expect(messages(onC.items).filter((m) => m.replyId === "gone")).toEqual(ended);
    // Stored once, whichever instance won the race; later joiners see no running reply.
    expect((await b.history("r", 10)).filter((m) => m.replyId === "gone")).toHaveLength(1);
    const later = drain(await c.subscribe("r", { replay: 0 }));
    await later.waitFor((items) => items.some((i) => i.event === "presence"));
    expect(later.items.some((i) => i.event === "reply-start")).toBe(false);
  });

  test("presence and room counts cover every instance", async () => {
    const { hubs } = await instances(shared!, 2);
    const [a, b] = hubs as [Hub, Hub];
    const told: number[] = [];
    a.onPresence((event) => told.push(event.subscribers));
    const onA = drain(await a.subscribe("lobby"));
    await b.subscribe("lobby");
    await b.subscribe("lobby");
    await onA.waitFor((items) => items.some((i) => i.event === "presence" && JSON.parse(i.data!).subscribers === 3));
    await waitFor(async () => (await a.room("lobby"))?.subscribers === 3, { what: "A to count 3" });
    await b.publish("lobby", input("hi"));
    const listed = await waitFor(
      async () => (await b.rooms()).find((info) => info.room === "lobby" && info.subscribers === 3),
      {
        what: "B to list the room with 3",
      },
    );
    expect(listed).toEqual({ room: "lobby", subscribers: 3, messages: 1 });
    expect(told.at(-1)).toBe(3);
  });

  test("presence lists the people of every instance, each once under its smallest name, and drops those who left", async () => {
    const { hubs } = await instances(shared!, 2, { syncIntervalMs: 200 });
    const [a, b] = hubs as [Hub, Hub];
    const onA = drain(await a.subscribe("lobby", { who: { userId: "u2", user: "bo" } }));
    const onB = drain(await b.subscribe("lobby", { who: { userId: "u1", user: "zed" } }));
    const annOnB = await b.subscribe("lobby", { who: { userId: "u3", user: "ann" } });
    // u1 on both instances, under two names: listed once, as "al".
    const alOnA = await a.subscribe("lobby", { who: { userId: "u1", user: "al" } });
    const expected = [
      { userId: "u1", user: "al" },
      { userId: "u3", user: "ann" },
      { userId: "u2", user: "bo" },
    ];
    for (const reader of [onA, onB]) {
      await reader.waitFor((items) => JSON.stringify(usersIn(items)) === JSON.stringify(expected), "every person");
    }
    await annOnB.return();
    await alOnA.return();
    const after = [
      { userId: "u2", user: "bo" },
      { userId: "u1", user: "zed" },
    ];
    for (const reader of [onA, onB]) {
      await reader.waitFor((items) => JSON.stringify(usersIn(items)) === JSON.stringify(after), "those left");
    }
  });

  test("another instance's people show within one of its ticks: it tells the others its entry changed", async () => {
    const prefix = `hub${++prefixes}`;
    const make = async (syncIntervalMs: number) => {
      const redis = await connectRedis(shared!.url, { onError: () => {} });
      const hub = createRedisHub({ syncIntervalMs, presenceIntervalMs: 0, redis, keyPrefix: prefix });
      cleanups.push(() => hub.close());
      return hub;
    };
    // A never ticks during the test: only B's word on the channel can make it read B's people.
    const a = await make(600_000);
    const b = await make(100);
    const onA = drain(await a.subscribe("lobby"));
    const ann = await b.subscribe("lobby", { who: { userId: "u1", user: "ann" } });
    await onA.waitFor((items) => usersIn(items)?.length === 1, "ann on A");
    expect(usersIn(onA.items)).toEqual([{ userId: "u1", user: "ann" }]);
    expect(JSON.parse(onA.items.filter((i) => i.event === "presence").at(-1)!.data!).subscribers).toBe(2);
    await ann.return();
    await onA.waitFor((items) => usersIn(items)?.length === 0, "ann gone on A");
  });

  test("typing reaches every instance once per person per interval, and leaves the numbered order alone", async () => {
    const errors: unknown[] = [];
    const { hubs } = await instances(shared!, 2, { onError: (error) => errors.push(error) });
    const [a, b] = hubs as [Hub, Hub];
    const onA = drain(await a.subscribe("r"));
    const onB = drain(await b.subscribe("r"));
    const published: ChatMessage[] = [];
    for (let i = 0; i < 10; i++) {
      published.push(await a.publish("r", input(`m${i}`)));
      await (i % 2 === 0 ? a : b).typing("r", { userId: `u${i}`, user: `n${i}` });
    }
    // The same person on the other instance within the interval: absorbed by Redis' key.
    expect(await a.typing("r", { userId: "x", user: "ann" })).toBe(true);
    expect(await b.typing("r", { userId: "x", user: "ann" })).toBe(false);
    for (const reader of [onA, onB]) {
      await reader.waitFor((items) => items.filter((i) => i.event === "typing").length === 11, "11 typing events");
      await reader.waitFor((items) => messages(items).length === 10);
      expect(messages(reader.items).map((m) => m.id)).toEqual(published.map((m) => m.id));
      expect(reader.items.filter((i) => i.event === "typing").at(-1)).toEqual({
        event: "typing",
        data: JSON.stringify({ room: "r", user: "ann", userId: "x" }),
      });
    }
    const next = await b.publish("r", input("next"));
    await onA.waitFor((items) => messages(items).some((m) => m.id === next.id));
    expect(errors).toEqual([]);
    expect(onA.done.value).toBe(false);
  });

  test("with Redis' default node size, a cursor older than historySize but still retained resumes exactly", async () => {
    const { hubs } = await instances(shared!, 1, { historySize: 5 });
    const hub = hubs[0]!;
    const all: ChatMessage[] = [];
    for (let i = 0; i < 20; i++) all.push(await hub.publish("r", input(`m${i}`)));
    const reader = drain(await hub.subscribe("r", { after: all[1]!.id }));
    await reader.waitFor((items) => messages(items).length === 18);
    expect(reader.items.some((i) => i.event === "reset")).toBe(false);
    expect(messages(reader.items).map((m) => m.id)).toEqual(all.slice(2).map((m) => m.id));
  });
});

describe.skipIf(!haveRedis())("redis hub rate buckets (takeToken)", () => {
  test("one bucket per client and name, shared by every instance: the burst, then a refusal with the wait", async () => {
    const { hubs, connections, prefix } = await instances(shared!, 2);
    const [a, b] = [hubs[0]!, hubs[1]!];
    const taken: number[] = [];
    for (let i = 0; i < 5; i++) taken.push(await (i % 2 === 0 ? a : b).takeToken!("posts", "10.0.0.1", 4, 0.1));
    expect(taken).toEqual([0, 0, 0, 0, 10]); // 4 across both, then a token is 10 s away
    expect(await b.takeToken!("posts", "10.0.0.2", 4, 0.1)).toBe(0); // another client
    expect(await b.takeToken!("streams", "10.0.0.1", 4, 0.1)).toBe(0); // another bucket
    // The bucket expires once it would be full again (40 s at most here), so Redis forgets idle clients.
    const ttl = Number(await connections[0]!.command(["PTTL", `${prefix}:limit:posts:{10.0.0.1}`]));
    expect(ttl).toBeGreaterThan(30_000);
    expect(ttl).toBeLessThanOrEqual(41_000);
  });

  test("tokens come back at the rate, by Redis' clock", async () => {
    const { hubs } = await instances(shared!, 1);
    const hub = hubs[0]!;
    expect(await hub.takeToken!("posts", "c", 1, 50)).toBe(0);
    expect(await hub.takeToken!("posts", "c", 1, 50)).toBe(1); // the next in 20 ms: Retry-After rounds up
    await waitFor(async () => (await hub.takeToken!("posts", "c", 1, 50)) === 0, { what: "a token back" });
  });

  test("a client key from a proxy's header cannot end the hash tag or grow the key without bound", async () => {
    const { hubs, connections, prefix } = await instances(shared!, 1);
    const client = `}{x ${"9".repeat(10_000)}`;
    expect(await hubs[0]!.takeToken!("posts", client, 1, 1)).toBe(0);
    const keys = (await connections[0]!.command(["KEYS", `${prefix}:limit:*`])) as string[];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^${prefix}:limit:posts:\\{%7D%7Bx%209+\\}$`));
    expect(keys[0]!.length).toBeLessThan(300);
  });

  test("bad sizes are a RangeError; Redis down is HubUnavailableError", async () => {
    const { hubs, connections } = await instances(shared!, 1);
    await expect(hubs[0]!.takeToken!("posts", "c", 0, 1)).rejects.toThrow(RangeError);
    await expect(hubs[0]!.takeToken!("posts", "c", 1, Number.NaN)).rejects.toThrow(/perSecond/);
    await connections[0]!.close();
    await expect(hubs[0]!.takeToken!("posts", "c", 1, 1)).rejects.toBeInstanceOf(HubUnavailableError);
  });
});

describe.skipIf(!haveRedis())("redis hub across Redis restarts", () => {
  test("restarted with AOF (appendfsync always): 503 while down, streams stay open and resume, nothing acknowledged lost", async () => {
    const server = await startRedis({ appendfsync: "always" });
    cleanups.push(() => removeRedis(server));
    const { hubs } = await instances(server, 2);
    const [a, b] = hubs as [Hub, Hub];
    const reader = drain(await a.subscribe("r"));
    const before = await b.publish("r", input("before"));
    await reader.waitFor((items) => messages(items).length === 1);
    await server.stop({ kill: true });
    await waitFor(async () => (await a.stats()).unavailable !== undefined, { what: "A to see Redis down" });
    expect((await a.stats()).unavailable).toMatch(/Redis/);
    await expect(b.publish("r", input("lost?"))).rejects.toBeInstanceOf(HubUnavailableError);
    await expect(b.subscribe("r")).rejects.toBeInstanceOf(HubUnavailableError);
    expect(reader.done.value).toBe(false); // the stream stays open through the outage
    await server.start();
    const after = await publishWhenUp(b, "r", "after");
    await reader.waitFor((items) => messages(items).some((m) => m.id === after.id), "the message posted after");
    expect(messages(reader.items).map((m) => m.id)).toEqual([before.id, after.id]);
    expect(reader.done.value).toBe(false);
    await waitFor(async () => (await a.stats()).unavailable === undefined, { what: "A to see Redis back" });
    expect((await a.history("r", 10)).map((m) => m.text)).toEqual(["before", "after"]);
  }, 30_000);

  test("restarted empty: open streams end, old cursors get reset (unknown-cursor), new messages flow", async () => {
    const server = await startRedis();
    cleanups.push(() => removeRedis(server));
    const { hubs } = await instances(server, 2);
    const [a, b] = hubs as [Hub, Hub];
    const reader = drain(await a.subscribe("r"));
    const old = await b.publish("r", input("old"));
    await reader.waitFor((items) => messages(items).length === 1);
    await server.stop({ kill: true });
    await server.start({ empty: true });
    const fresh = await publishWhenUp(b, "r", "fresh");
    // The stream it delivered from is gone: its clients must reconnect and be told.
    await reader.waitFor(() => reader.done.value, "the stream to end");
    expect(messages(reader.items).map((m) => m.id)).not.toContain(fresh.id);
    // Both of A's connections back (its stream may end on a notification before its command connection is).
    await waitFor(async () => (await a.stats()).unavailable === undefined, { what: "A to see Redis back" });
    const resumed = drain(await a.subscribe("r", { after: old.id }));
    await resumed.waitFor((items) => messages(items).some((m) => m.id === fresh.id));
    expect(resumed.items[0]?.event).toBe("reset");
    expect(JSON.parse(resumed.items[0]!.data!)).toMatchObject({ reason: "unknown-cursor", oldestId: fresh.id });
    const next = await b.publish("r", input("next"));
    await resumed.waitFor((items) => messages(items).some((m) => m.id === next.id));
  }, 30_000);

  test("restarted empty: a room an instance was serving is no longer complete, on every instance", async () => {
    const server = await startRedis();
    cleanups.push(() => removeRedis(server));
    const { hubs } = await instances(server, 2);
    const [a, b] = hubs as [Hub, Hub];
    drain(await a.subscribe("r"));
    await b.publish("r", input("old"));
    expect(await b.page("r", { limit: 10 })).toMatchObject({ complete: true, hasMore: false });
    await server.stop({ kill: true });
    await server.start({ empty: true });
    // A saw the stream it delivered from vanish and marked the room; B never served it.
    await waitFor(
      async () => {
        try {
          return (await b.page("r", { limit: 10 })).complete === false;
        } catch {
          return false; // still reconnecting
        }
      },
      { what: "the room to be marked incomplete" },
    );
    const fresh = await publishWhenUp(b, "r", "fresh");
    expect(await b.page("r", { limit: 10 })).toEqual({
      messages: [fresh],
      hasMore: false,
      complete: false,
      oldestId: fresh.id,
    });
  }, 30_000);
});
