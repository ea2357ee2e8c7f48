/**
 * What only the in-memory hub promises: its `<epoch>-<seq>` ids, serialise-once fan-out, presence
 * folding, slow-subscriber drop, room eviction. What every hub promises is in
 * hub-contract.test.ts. No sleeps: conditions are awaited with a deadline.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { createMemoryHub, RoomLimitError, type ChatMessage, type Hub } from "../core/chat/mod.ts";
import { PUSH_SOURCE, type PushSource } from "../core/mod.ts";
import { drain, flushHub as flush, messagesIn as messages, publishMany } from "./_chat.ts";

const TIME = "2025-01-01T00:00:00.000Z";
const input = (text: string, user = "alice") => ({ user, text, time: TIME });

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("memory hub", () => {
  test("publish assigns <epoch>-<seq> ids counting from 1, delivered in order with the message as data", async () => {
    const hub = createMemoryHub({ epoch: "ep" });
    const reader = drain(await hub.subscribe("lobby"));
    const published = await publishMany(hub, "lobby", 100);
    expect(published.map((m) => m.id)).toEqual(Array.from({ length: 100 }, (_, i) => `ep.1-${i + 1}`));
    await reader.waitFor((items) => messages(items).length === 100);
    const frames = reader.items.filter((item) => item.event === undefined);
    expect(frames.map((f) => f.id)).toEqual(published.map((m) => m.id));
    expect(messages(reader.items)).toEqual(published);
    expect(published[0]).toEqual({ id: "ep.1-1", room: "lobby", user: "alice", text: "m1", time: TIME });
    // Presence of the subscriber itself comes first, then the messages.
    expect(reader.items[0]).toEqual({ event: "presence", data: '{"room":"lobby","subscribers":1,"users":[]}' });
  });

  test("each room has its own sequence and epoch", async () => {
    const hub = createMemoryHub({ epoch: "ep" });
    const a = await hub.publish("a", input("x"));
    const b = await hub.publish("b", input("y"));
    const a2 = await hub.publish("a", input("z"));
    expect([a.id, b.id, a2.id]).toEqual(["ep.1-1", "ep.2-1", "ep.1-2"]);
  });

  test("a message is serialised once and held once: every subscriber and the history share one frozen frame", async () => {
    const hub = createMemoryHub();
    const readers = await Promise.all([1, 2, 3].map(async () => drain(await hub.subscribe("r"))));
    const stringify = vi.spyOn(JSON, "stringify");
    const message = await hub.publish("r", input("shared"));
    const calls = stringify.mock.calls.length;
    stringify.mockRestore();
    expect(calls).toBe(1);
    for (const reader of readers) await reader.waitFor((items) => messages(items).length === 1);
    const frames = readers.map((reader) => reader.items.find((item) => item.event === undefined)!);
    expect(frames[0]).toEqual({ id: message.id }); // its only copy of the text is its bytes
    expect(frames[0]!.data).toBe(JSON.stringify(message));
    expect(Object.isFrozen(frames[0])).toBe(true);
    expect(frames[1]).toBe(frames[0]);
    expect(frames[2]).toBe(frames[0]);
    // A later subscriber's replay hands out the very same object.
    const late = drain(await hub.subscribe("r", { replay: 1 }));
    await late.waitFor((items) => messages(items).length === 1);
    expect(late.items[0]).toBe(frames[0]);
  });

  test("presence events are folded: N joins within the interval cost a leading and a trailing event", async () => {
    vi.useFakeTimers();
    try {
      const hub = createMemoryHub({ presenceIntervalMs: 250 });
      const first = drain(await hub.subscribe("r", { replay: 0 }));
      const counts = () =>
        first.items.filter((i) => i.event === "presence").map((i) => JSON.parse(i.data!).subscribers as number);
      await vi.advanceTimersByTimeAsync(0);
      expect(counts()).toEqual([1]); // the first change goes out at once
      for (let i = 0; i < 50; i++) await hub.subscribe("r", { replay: 0 });
      await vi.advanceTimersByTimeAsync(0);
      expect(counts()).toEqual([1]); // the next ones wait for the interval...
      await vi.advanceTimersByTimeAsync(250);
      expect(counts()).toEqual([1, 51]); // ...and arrive as one event with the latest count
      await vi.advanceTimersByTimeAsync(1000);
      expect(counts()).toEqual([1, 51]); // nothing changed since: no more events, no timer left
      expect(vi.getTimerCount()).toBe(0);
      await hub.close();
    } finally {
      vi.useRealTimers();
    }
  });

  test("a subscriber whose queue overflows is dropped alone, and resumes by cursor without loss", async () => {
    const hub = createMemoryHub({ queueLimit: 4, epoch: "ep", presenceIntervalMs: 0 });
    const fast = drain(await hub.subscribe("r"));
    const slow = await hub.subscribe("r"); // never read while messages arrive
    await fast.waitFor((items) => items.filter((i) => i.event === "presence").length === 2);
    const published = await publishMany(hub, "r", 10);
    // The slow one was cut: its iterator is done at once (its buffered events were freed).
    await expect(slow.next()).resolves.toEqual({ done: true, value: undefined });
    expect((await hub.room("r"))?.subscribers).toBe(1);
    await fast.waitFor((items) => messages(items).length === 10);
    expect(messages(fast.items)).toEqual(published);
    const presence = fast.items.filter((i) => i.event === "presence").map((i) => JSON.parse(i.data!).subscribers);
    expect(presence).toEqual([1, 2, 1]);
    // Reconnecting with the last id it had seen (none: the cursor before the first) loses nothing.
    const resumed = drain(await hub.subscribe("r", { after: "ep.1-0" }));
    await flush(hub, "r", resumed);
    expect(messages(resumed.items).map((m) => m.text)).toEqual([...published.map((m) => m.text), "sentinel"]);
  });

  test("at maxRooms, a new room evicts the least recently active room without subscribers", async () => {
    const hub = createMemoryHub({ maxRooms: 3, epoch: "ep" });
    await hub.publish("a", input("1"));
    await hub.publish("b", input("1"));
    const held = await hub.subscribe("c"); // c has a subscriber: never evicted
    await hub.publish("a", input("2")); // a is now more recent than b
    await hub.publish("d", input("1"));
    expect((await hub.rooms()).map((r) => r.room).sort()).toEqual(["a", "c", "d"]);
    await hub.publish("e", input("1")); // evicts a (d is more recent)
    expect((await hub.rooms()).map((r) => r.room).sort()).toEqual(["c", "d", "e"]);
    // Every room has a subscriber: a new one is refused.
    const held2 = await hub.subscribe("d");
    const held3 = await hub.subscribe("e");
    await expect(hub.publish("f", input("1"))).rejects.toBeInstanceOf(RoomLimitError);
    await expect(hub.subscribe("f")).rejects.toThrow("maximum of 3 rooms");
    // Once a room empties it becomes evictable again.
    await held.return();
    await hub.publish("f", input("1"));
    expect((await hub.rooms()).map((r) => r.room).sort()).toEqual(["d", "e", "f"]);
    await held2.return();
    await held3.return();
  });

  test("a room recreated after eviction has a new epoch: old cursors get reset instead of wrong messages", async () => {
    const hub = createMemoryHub({ maxRooms: 1, epoch: "ep" });
    const old = await publishMany(hub, "r", 3);
    await hub.publish("other", input("evicts r"));
    const renewed = await publishMany(hub, "r", 5);
    expect(renewed[0]!.id).not.toBe(old[0]!.id);
    const reader = drain(await hub.subscribe("r", { after: old[1]!.id }));
    await reader.waitFor((items) => messages(items).length === 5);
    expect(JSON.parse(reader.items[0]!.data!).reason).toBe("unknown-cursor");
  });

  test("rejects invalid options", () => {
    expect(() => createMemoryHub({ historySize: 0 })).toThrow(RangeError);
    expect(() => createMemoryHub({ queueLimit: 1.5 })).toThrow('"queueLimit" must be a positive safe integer');
    expect(() => createMemoryHub({ epoch: "a-b" })).toThrow('"epoch"');
  });
});

describe("presence under mass disconnects", () => {
  test("thousands of subscribers cut during one presence broadcast leave without nested broadcasts", async () => {
    vi.useFakeTimers(); // the presence interval is driven by hand
    const hub = createMemoryHub({ presenceIntervalMs: 250 });
    const detaches: (() => void)[] = [];
    let presencePushes = 0;
    // Push consumers that are cut (detach, as a slow reader's stream does) by the first presence event.
    for (let i = 0; i < 5000; i++) {
      const subscription = (await hub.subscribe("crowd", { replay: 0 })) as unknown as PushSource;
      let detach: (() => void) | undefined;
      detach = subscription[PUSH_SOURCE]({
        push: (item) => {
          if ((item as { event?: string }).event === "presence") presencePushes++;
          detach?.();
        },
        end: () => {},
      });
      detaches.push(detach);
    }
    expect((await hub.stats()).subscribers).toBe(5000);
    // The trailing presence event of the joins is broadcast: it cuts every one of them, and each
    // cut is a leave, i.e. another presence change, during that broadcast.
    await vi.advanceTimersByTimeAsync(300);
    expect(presencePushes).toBeGreaterThan(0);
    expect((await hub.stats()).subscribers).toBe(0);
    const late = await hub.subscribe("crowd", { replay: 0 });
    // Each cut reader got the one event that cut it (the first also the presence of its own join,
    // queued before it attached): no storm of nested broadcasts.
    expect(presencePushes).toBe(5001);
    await late.return();
    await hub.close();
  });
});

describe("memory hub byte budget", () => {
  /** Bytes the hub should count for what it holds: each message's frame (its only copy) and overhead. */
  async function heldBytes(hub: Hub, rooms: readonly string[]): Promise<number> {
    let total = 0;
    for (const room of rooms) {
      for (const message of await hub.history(room, 1_000_000)) {
        const data = JSON.stringify(message);
        const frame = `id: ${message.id}\ndata: ${data}\n\n`;
        total += new TextEncoder().encode(frame).byteLength + 240;
      }
    }
    return total;
  }

  test("the oldest messages of the whole server go first once the budget is reached", async () => {
    const budget = 400_000;
    const hub = createMemoryHub({ historySize: 50, historyBytes: budget, maxRooms: 100_000, epoch: "ep" });
    const text = "😀".repeat(2000); // the longest text a post may carry: 4000 UTF-16 code units
    const rooms = Array.from({ length: 300 }, (_, i) => `flood${i}`);
    const first: ChatMessage[] = [];
    for (const room of rooms) first.push(await hub.publish(room, input(text)));
    const stats = await hub.stats();
    expect(stats.retainedBytes).toBeLessThanOrEqual(budget);
    expect(stats.retainedBytes).toBe(await heldBytes(hub, rooms));
    // The earliest rooms lost their history, the latest kept theirs.
    expect(await hub.history("flood0", 10)).toEqual([]);
    expect(await hub.history("flood299", 10)).toEqual([first[299]]);
    // A cursor from before what was dropped is told so (one at the dropped message lost nothing).
    const reader = drain(await hub.subscribe("flood0", { after: first[0]!.id.replace(/-1$/, "-0") }));
    await reader.waitFor((items) => items.length >= 1);
    expect(JSON.parse(reader.items[0]!.data!)).toMatchObject({ reason: "history-truncated" });
  });

  test("the count stays exact through the per-room bound, eviction and the budget together", async () => {
    const hub = createMemoryHub({ historySize: 3, historyBytes: 20_000, maxRooms: 5, epoch: "ep" });
    const rooms = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const room = `r${(i * 7) % 11}`;
      rooms.add(room);
      await hub.publish(room, input("x".repeat((i * 37) % 500)));
    }
    const stats = await hub.stats();
    expect(stats.retainedBytes).toBeLessThanOrEqual(20_000);
    expect(stats.retainedBytes).toBe(await heldBytes(hub, [...rooms]));
  });
});
