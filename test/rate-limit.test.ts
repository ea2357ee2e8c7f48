/**
 * Per-client rate limits: the token buckets themselves (fake clock), how a client is named (its
 * address, a trusted proxy's view, an IPv6 /64), and the chat's `429` answers for posts, new
 * streams and new rooms, per client, and switched off.
 */
import { describe, expect, test } from "vitest";
import { createChatApp, createMemoryHub, type Hub, HubClosedError, HubUnavailableError } from "../core/chat/mod.ts";
import { clientKey, type Limiter, limiterFor, NewRoomLimiter, RateLimiter } from "../core/chat/_rate-limit.ts";
import { BASE } from "./_chat.ts";

describe("RateLimiter", () => {
  test("a full bucket allows the burst, then the steady rate, and says how long to wait", () => {
    let now = 0;
    const limiter = new RateLimiter(3, 2, () => now); // 3 at once, then 2 per second
    expect([1, 2, 3].map(() => limiter.take("a"))).toEqual([0, 0, 0]);
    expect(limiter.take("a")).toBe(1); // a token comes back in 0.5 s: Retry-After rounds up
    now = 500;
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(1);
    now = 10_000; // refilled, but never past the burst
    expect([1, 2, 3, 4].map(() => limiter.take("a"))).toEqual([0, 0, 0, 1]);
    expect(limiter.take("b")).toBe(0); // buckets are per key
  });

  test("a slow rate gives a long wait; a refused take costs nothing", () => {
    let now = 0;
    const limiter = new RateLimiter(1, 0.1, () => now); // one per 10 s
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBe(10);
    now = 5000;
    expect(limiter.take("a")).toBe(5);
    now = 10_000;
    expect(limiter.take("a")).toBe(0);
  });

  test("at most maxKeys buckets are kept: the least recently used go first", () => {
    const now = 0;
    const limiter = new RateLimiter(1, 0.001, () => now, 2);
    limiter.take("a");
    limiter.take("b");
    limiter.take("a"); // a is now the most recently used
    limiter.take("c"); // forgets b
    expect(limiter.take("a")).toBeGreaterThan(0); // still remembered: empty
    expect(limiter.take("b")).toBe(0); // forgotten: a full bucket again
  });
});

describe("NewRoomLimiter", () => {
  test("a room is charged once within the window, to whoever created it; after it, again", () => {
    let now = 0;
    const rooms = new NewRoomLimiter(new RateLimiter(2, 0.001, () => now), () => now, 1000);
    expect(rooms.take("a", "lobby")).toBe(0);
    expect(rooms.take("a", "lobby")).toBe(0); // racing requests for the same room: free
    expect(rooms.take("b", "lobby")).toBe(0); // another client racing for it: free too
    expect(rooms.take("a", "kitchen")).toBe(0); // a's second token
    expect(rooms.take("a", "attic")).toBeGreaterThan(0); // a's bucket is empty
    now = 1000; // the window has passed: the room was evicted and is being created anew
    expect(rooms.take("a", "lobby")).toBeGreaterThan(0);
    expect(rooms.take("b", "lobby")).toBe(0); // b pays for it
  });

  test("a refused room is not remembered; at most maxRooms charges are", () => {
    const now = 0;
    const rooms = new NewRoomLimiter(new RateLimiter(3, 0.001, () => now), () => now, 1000, 2);
    expect(rooms.take("a", "r1")).toBe(0);
    expect(rooms.take("a", "r2")).toBe(0);
    expect(rooms.take("a", "r3")).toBe(0); // forgets r1's charge
    expect(rooms.take("a", "r1")).toBeGreaterThan(0); // r1 is charged again, and a has no tokens
    expect(rooms.take("a", "r1")).toBeGreaterThan(0); // the refusal left nothing behind
    expect(rooms.take("a", "r3")).toBe(0); // still remembered
  });
});

describe("NewRoomLimiter over a limiter that answers later (a shared bucket)", () => {
  /** A limiter whose answers the test releases one by one, in order: a round trip to Redis. */
  function later(): { limiter: Limiter; asked: string[]; answer(wait: number): void; fail(error: Error): void } {
    const pending: { resolve(wait: number): void; reject(error: Error): void }[] = [];
    const asked: string[] = [];
    return {
      limiter: {
        take: (key) =>
          new Promise<number>((resolve, reject) => {
            asked.push(key);
            pending.push({ resolve, reject });
          }),
      },
      asked,
      answer: (wait) => pending.shift()!.resolve(wait),
      fail: (error) => pending.shift()!.reject(error),
    };
  }

  test("racers for a room being charged wait for that charge and pay nothing when it was allowed", async () => {
    const bucket = later();
    const rooms = new NewRoomLimiter(bucket.limiter, () => 0, 1000);
    const racing = [rooms.take("a", "lobby"), rooms.take("a", "lobby"), rooms.take("b", "lobby")];
    expect(bucket.asked).toEqual(["a"]); // one charge in flight, not three
    bucket.answer(0);
    expect(await Promise.all(racing)).toEqual([0, 0, 0]);
    expect(await rooms.take("c", "lobby")).toBe(0); // charged within the window: free, nothing asked
    expect(bucket.asked).toEqual(["a"]);
  });

  test("after a refused charge each racer pays for itself; a failed charge is forgotten", async () => {
    const bucket = later();
    const rooms = new NewRoomLimiter(bucket.limiter, () => 0, 1000);
    const first = rooms.take("a", "lobby");
    const other = rooms.take("b", "lobby");
    bucket.answer(7); // a is out of tokens
    expect(await first).toBe(7);
    await waitForAsk(bucket.asked, 2);
    expect(bucket.asked).toEqual(["a", "b"]); // b is charged on its own
    bucket.answer(0);
    expect(await other).toBe(0);
    const broken = rooms.take("a", "kitchen");
    bucket.fail(new Error("boom"));
    await expect(broken).rejects.toThrow("boom");
    const again = rooms.take("a", "kitchen"); // nothing left in flight: asked afresh
    expect(bucket.asked).toEqual(["a", "b", "a", "a"]);
    bucket.answer(0);
    expect(await again).toBe(0);
  });
});

/** Waits (a bounded number of microtask turns) until `asked` has `count` entries. */
async function waitForAsk(asked: readonly string[], count: number): Promise<void> {
  for (let turn = 0; turn < 100 && asked.length < count; turn++) await Promise.resolve();
}

describe("limiterFor", () => {
  const sharing = (takeToken: Hub["takeToken"]): Hub => Object.assign(Object.create(createMemoryHub()), { takeToken });

  test("a hub that keeps no buckets gets this instance's own", () => {
    expect(limiterFor(createMemoryHub(), "posts", 2, 1)).toBeInstanceOf(RateLimiter);
  });

  test("a hub that keeps buckets is asked, with the bucket's name and sizes", async () => {
    const asked: unknown[][] = [];
    const hub = sharing(async (...args) => {
      asked.push(args);
      return asked.length === 1 ? 0 : 3;
    });
    const posts = limiterFor(hub, "posts", 20, 0.5);
    expect([await posts.take("10.0.0.1"), await posts.take("10.0.0.1")]).toEqual([0, 3]);
    expect(asked).toEqual([
      ["posts", "10.0.0.1", 20, 0.5],
      ["posts", "10.0.0.1", 20, 0.5],
    ]);
  });

  test("while the hub's storage is unreachable, this instance counts alone; other errors propagate", async () => {
    let failure: Error = new HubUnavailableError("Redis is unreachable");
    const posts = limiterFor(
      sharing(() => Promise.reject(failure)),
      "posts",
      2,
      0.001,
    );
    expect([await posts.take("a"), await posts.take("a")]).toEqual([0, 0]);
    expect(await posts.take("a")).toBeGreaterThan(0); // the local bucket of 2 is empty
    failure = new HubClosedError(); // shutting down: still counted here, never a 500
    expect(await posts.take("a")).toBeGreaterThan(0);
    failure = new Error("ERR a script bug");
    await expect(posts.take("b")).rejects.toThrow("ERR a script bug");
  });
});

describe("clientKey", () => {
  test("the connection's address, unless trusted proxies say otherwise", () => {
    expect(clientKey("10.0.0.9", "203.0.113.7", 0)).toBe("10.0.0.9"); // not trusted: ignored
    expect(clientKey("10.0.0.9", "203.0.113.7", 1)).toBe("203.0.113.7");
    // Two proxies: the client is the second entry from the right, whatever it claimed before.
    expect(clientKey("10.0.0.9", "6.6.6.6, 203.0.113.7, 10.0.0.8", 2)).toBe("203.0.113.7");
    expect(clientKey("10.0.0.9", null, 1)).toBe("10.0.0.9");
    expect(clientKey("10.0.0.9", "203.0.113.7", 3)).toBe("10.0.0.9"); // fewer hops than trusted
    expect(clientKey(undefined, null, 0)).toBe("unknown");
  });

  test("IPv4-mapped addresses count as IPv4; IPv6 by its /64", () => {
    expect(clientKey("::ffff:192.0.2.1", null, 0)).toBe("192.0.2.1");
    expect(clientKey("2001:db8:0:1:aaaa:bbbb:cccc:dddd", null, 0)).toBe("2001:db8:0:1::/64");
    expect(clientKey("2001:DB8:0:1::2", null, 0)).toBe("2001:db8:0:1::/64");
    expect(clientKey("2001:db8::1", null, 0)).toBe("2001:db8:0:0::/64");
    expect(clientKey("::1", null, 0)).toBe("0:0:0:0::/64");
  });
});

describe("the chat's rate limits", () => {
  const post = (app: ReturnType<typeof createChatApp>, room: string, address: string) =>
    app.fetch(
      new Request(`${BASE}/rooms/${room}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "ann", text: "hi" }),
      }),
      { remoteAddress: address },
    );

  test("posts past the burst get 429 JSON with Retry-After; another client is not affected", async () => {
    const app = createChatApp({ responder: null, postBurst: 5, postRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(app, "lobby", "198.51.100.1")).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
    const refused = await post(app, "lobby", "198.51.100.1");
    expect(refused.headers.get("retry-after")).toBe("2");
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
    expect(refused.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await refused.json()).toEqual({ error: "Too many messages from this client; try again in 2 s" });
    expect((await post(app, "lobby", "198.51.100.2")).status).toBe(201);
    await app.close();
  });

  test("new rooms are limited per client, so nobody can crowd out everyone's rooms", async () => {
    const app = createChatApp({ responder: null, roomBurst: 3, roomRate: 0.01 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(app, `new${i}`, "198.51.100.1")).status);
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    const refused = await post(app, "new9", "198.51.100.1");
    expect(await refused.json()).toEqual({ error: "Too many new rooms created by this client; try again in 100 s" });
    expect((await post(app, "new0", "198.51.100.1")).status).toBe(201); // an existing room is fine
    // Streams count too: opening a stream creates the room.
    const stream = await app.fetch(new Request(`${BASE}/rooms/new8/events`), { remoteAddress: "198.51.100.1" });
    expect(stream.status).toBe(429);
    await stream.body?.cancel();
    await app.close();
  });

  test("requests racing to create one room are charged one room, however many they are", async () => {
    const app = createChatApp({ responder: null, roomBurst: 2, roomRate: 0.01 });
    // 20 streams and 10 posts at once, all to a room that does not exist yet (50 tabs opening it).
    const streams = Array.from({ length: 20 }, () =>
      app.fetch(new Request(`${BASE}/rooms/fresh/events`), { remoteAddress: "198.51.100.1" }),
    );
    const posts = Array.from({ length: 10 }, () => post(app, "fresh", "198.51.100.1"));
    const responses = await Promise.all([...streams, ...posts]);
    expect(responses.map((response) => response.status)).toEqual([...Array(20).fill(200), ...Array(10).fill(201)]);
    for (const response of responses) await response.body?.cancel();
    // That was one room: the next new room is allowed, the one after it is not.
    expect((await post(app, "second", "198.51.100.1")).status).toBe(201);
    expect((await post(app, "third", "198.51.100.1")).status).toBe(429);
    await app.close();
  });

  test("new event streams past the burst get 429", async () => {
    const app = createChatApp({ responder: null, streamBurst: 2, streamRate: 0.5 });
    const open = () => app.fetch(new Request(`${BASE}/rooms/lobby/events`), { remoteAddress: "198.51.100.1" });
    const responses = [await open(), await open(), await open()];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 429]);
    expect(responses[2]!.headers.get("retry-after")).toBe("2");
    for (const response of responses) await response.body?.cancel();
    await app.close();
  });

  test("rateLimit: false turns every limit off", async () => {
    const app = createChatApp({ responder: null, postBurst: 1, rateLimit: false });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await post(app, `room${i}`, "198.51.100.1")).status);
    expect(statuses).toEqual([201, 201, 201, 201, 201]);
    await app.close();
  });
});
