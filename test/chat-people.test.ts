/**
 * The pieces behind "who is here", "who is typing" and "how far back": the roster of a room and
 * the merge of several instances' lists (against a sorted model), the typing throttle's bounds,
 * and the memory hub's own rule that a room evicted and created again is not `complete`.
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { createMemoryHub } from "../core/chat/mod.ts";
import { MAX_PRESENCE_USERS, type PresenceUser } from "../core/chat/hub.ts";
import { byName, mergeUsers, Roster } from "../core/chat/_roster.ts";
import { TypingThrottle } from "../core/chat/_typing.ts";
import { publishMany } from "./_chat.ts";

const person = fc.record({
  userId: fc.constantFrom("u1", "u2", "u3", "u4", "u5", "u6"),
  user: fc.constantFrom("ann", "Ann", "bo", "민지", "zed", "é", "e\u0301"),
});

/** The model: every person once, under their smallest name, sorted, the first `max`. */
function model(people: readonly PresenceUser[], max: number): PresenceUser[] {
  const best = new Map<string, string>();
  for (const { userId, user } of people) {
    const known = best.get(userId);
    if (known === undefined || user < known) best.set(userId, user);
  }
  return [...best]
    .map(([userId, user]) => ({ userId, user }))
    .sort(byName)
    .slice(0, max);
}

test("the roster lists what the model says, through any joins and leaves", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), person), { maxLength: 60 }), (steps) => {
      const roster = new Roster();
      const present: PresenceUser[] = [];
      for (const [join, who] of steps) {
        if (join) {
          roster.add(who);
          present.push(who);
        } else {
          const at = present.findIndex((p) => p.userId === who.userId && p.user === who.user);
          roster.remove(who); // removing someone absent changes nothing
          if (at >= 0) present.splice(at, 1);
        }
        expect(roster.list()).toEqual(model(present, MAX_PRESENCE_USERS));
        expect(roster.size).toBe(new Set(present.map((p) => p.userId)).size);
      }
    }),
    { seed: 0x51e5, numRuns: 300 },
  );
});

test("the roster keeps at most 50 people listed, the first by name, and caches the list until it changes", () => {
  const roster = new Roster();
  for (let i = 999; i >= 0; i--) roster.add({ userId: `id${i}`, user: `n${String(i).padStart(4, "0")}` });
  const list = roster.list();
  expect(list).toHaveLength(50);
  expect(list[0]).toEqual({ userId: "id0", user: "n0000" });
  expect(list[49]).toEqual({ userId: "id49", user: "n0049" });
  expect(roster.list()).toBe(list);
  roster.remove({ userId: "id0", user: "n0000" });
  expect(roster.list()).not.toBe(list);
  expect(roster.list()[49]).toEqual({ userId: "id50", user: "n0050" });
  expect(roster.size).toBe(999);
});

test("merging each instance's first 50 gives the first 50 of everyone", () => {
  fc.assert(
    fc.property(
      fc.array(fc.array(person, { maxLength: 12 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 6 }),
      (instances, max) => {
        // Each instance lists its own people (distinct by user id) and keeps its first `max`.
        const lists = instances.map((people) => model(people, max));
        expect(mergeUsers(lists, max)).toEqual(model(instances.flat(), max));
      },
    ),
    { seed: 0x3e26, numRuns: 300 },
  );
});

test("the typing throttle: leading edge per room and person, swept once the interval passed, bounded", () => {
  let now = 0;
  const throttle = new TypingThrottle(2000, () => now, 100);
  expect(throttle.take("r", "u1")).toBe(true);
  expect(throttle.take("r", "u1")).toBe(false);
  expect(throttle.take("s", "u1")).toBe(true);
  // A room and a user id never run into each other's key.
  expect(throttle.take("r1", "x")).toBe(true);
  expect(throttle.take("r", "1x")).toBe(true);
  now = 1999;
  expect(throttle.take("r", "u1")).toBe(false);
  now = 2000;
  expect(throttle.take("r", "u1")).toBe(true);
  expect(throttle.size).toBe(1); // the others were swept
  // A flood of new people: never more than 100 entries, and each one is heard.
  for (let i = 0; i < 10_000; i++) expect(throttle.take("r", `flood${i}`)).toBe(true);
  expect(throttle.size).toBe(100);
  now = 10_000;
  expect(throttle.take("r", "late")).toBe(true);
  expect(throttle.size).toBe(1);
});

test("memory hub: typing in a room nobody reads sends nothing and keeps nothing", async () => {
  const hub = createMemoryHub();
  expect(await hub.typing("nowhere", { userId: "u1", user: "ann" })).toBe(false);
  await hub.publish("quiet", { user: "ann", text: "hi", time: "2025-01-01T00:00:00.000Z" });
  expect(await hub.typing("quiet", { userId: "u1", user: "ann" })).toBe(false);
  await hub.close();
});

test("memory hub: a room evicted, then created again, is not complete; one evicted empty lost nothing", async () => {
  const hub = createMemoryHub({ maxRooms: 2 });
  await publishMany(hub, "a", 2);
  await (await hub.subscribe("empty")).return(); // no subscribers any more: evictable, no messages
  await publishMany(hub, "b", 1); // evicts "a" (least recently active)
  expect(await hub.room("a")).toBeUndefined();
  expect(await hub.room("empty")).toBeDefined();
  expect(await hub.page("a", { limit: 10 })).toEqual({ messages: [], hasMore: false, complete: false, oldestId: null });
  await publishMany(hub, "c", 1); // evicts "empty"
  expect(await hub.room("empty")).toBeUndefined();
  expect((await hub.page("empty", { limit: 10 })).complete).toBe(true);
  const again = await publishMany(hub, "a", 1); // evicts "b"; "a" starts a new life
  expect(await hub.page("a", { limit: 10 })).toEqual({
    messages: again,
    hasMore: false,
    complete: false,
    oldestId: again[0]!.id,
  });
  await hub.close();
});

test("memory hub: the evicted rooms remembered are bounded (the oldest forgotten first)", async () => {
  const hub = createMemoryHub({ maxRooms: 1 });
  const time = "2025-01-01T00:00:00.000Z";
  for (let i = 0; i <= 10_001; i++) await hub.publish(`r${i}`, { user: "ann", text: "hi", time });
  // 10 001 evictions: r0 was forgotten, r1 .. r10000 are remembered.
  expect((await hub.page("r0", { limit: 1 })).complete).toBe(true);
  expect((await hub.page("r1", { limit: 1 })).complete).toBe(false);
  expect((await hub.page("r10000", { limit: 1 })).complete).toBe(false);
  await hub.close();
});
