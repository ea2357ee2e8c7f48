/**
 * Many instances, one chat: real server processes on every selected runtime (see
 * `describeMatrix`), started as users start them with `--redis`, on a real redis-server with AOF
 * `appendfsync always`. Clients reconnect as a load balancer would send them: to another
 * instance, with `Last-Event-ID`. Nothing sleeps: every wait is a condition with a deadline.
 */
import { get as httpGet } from "node:http";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseEventStream } from "../core/mod.ts";
import { haveRedis, type RedisServer, removeRedis, startRedis } from "./_redis.ts";
import { describeMatrix, type RunningServer, type Runtime, startServer, waitFor } from "./_server.ts";

type Message = { id: string; room: string; user: string; text: string; replyId?: string; error?: true };
type Seen = { type: string; data: Record<string, unknown>; id: string };

let rooms = 0;
const freshRoom = (label: string) => `redis-${label}-${process.pid}-${++rooms}`;

/**
 * An SSE client that follows a room across instances: on any failure or end it reconnects
 * after 100 ms to the next base URL (staying on the last one), with `Last-Event-ID`.
 */
class Follower {
  readonly events: Seen[] = [];
  lastEventId: string | undefined;
  opens = 0;
  readonly #controller = new AbortController();
  readonly bases: () => readonly string[];
  readonly path: string;

  constructor(bases: () => readonly string[], path: string, lastEventId?: string) {
    this.bases = bases;
    this.path = path;
    this.lastEventId = lastEventId;
    void this.#run();
  }

  async #run(): Promise<void> {
    for (let attempt = 0; !this.#controller.signal.aborted; attempt++) {
      const bases = this.bases();
      const base = bases[Math.min(attempt, bases.length - 1)]!;
      try {
        const headers: Record<string, string> =
          this.lastEventId === undefined ? {} : { "last-event-id": this.lastEventId };
        const response = await fetch(`${base}${this.path}`, { headers, signal: this.#controller.signal });
        if (response.status === 200 && response.body !== null) {
          this.opens++;
          for await (const event of parseEventStream(response.body)) {
            this.events.push({
              type: event.type,
              data: JSON.parse(event.data) as Record<string, unknown>,
              id: event.lastEventId,
            });
            if (event.lastEventId !== "") this.lastEventId = event.lastEventId;
          }
        } else {
          await response.body?.cancel();
        }
      } catch {
        // reset by a killed instance, or aborted by close()
      }
      if (this.#controller.signal.aborted) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  messages(): Message[] {
    return this.events.filter((event) => event.type === "message").map((event) => event.data as unknown as Message);
  }

  untilMessages(count: number, what = `${count} messages`, timeoutMs = 15_000): Promise<Message[]> {
    return waitFor(() => (this.messages().length >= count ? this.messages() : undefined), {
      timeoutMs,
      what: `${what} (have ${this.messages().length})`,
    });
  }

  close(): void {
    this.#controller.abort();
  }
}

async function post(base: string, room: string, text: string, user = "tester"): Promise<Response> {
  return fetch(`${base}/rooms/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user, text }),
  });
}

async function send(base: string, room: string, text: string): Promise<string> {
  const response = await post(base, room, text);
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/**
 * `count` bare subscribers on `base` (node:http, no SSE parser: each keeps the ids of the
 * messages it got, in order). Resolves once every one has its `200` head: its subscription exists.
 */
async function crowd(base: string, room: string, count: number): Promise<{ ids: string[][]; close(): void }> {
  const ids: string[][] = [];
  const requests: ReturnType<typeof httpGet>[] = [];
  const heads: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const seen: string[] = [];
    ids.push(seen);
    heads.push(
      new Promise((resolve, reject) => {
        const request = httpGet(`${base}/rooms/${room}/events?history=0`, { agent: false }, (response) => {
          if (response.statusCode !== 200) return reject(new Error(`status ${response.statusCode}`));
          resolve();
          let pending = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => {
            pending += chunk;
            let end = pending.indexOf("\n\n");
            while (end !== -1) {
              const frame = pending.slice(0, end);
              pending = pending.slice(end + 2);
              const id = /^id: (.*)$/m.exec(frame);
              if (id !== null && !/^event:/m.test(frame)) seen.push(id[1]!);
              end = pending.indexOf("\n\n");
            }
          });
          response.on("error", () => {});
        });
        request.on("error", reject);
        requests.push(request);
      }),
    );
  }
  await Promise.all(heads);
  return {
    ids,
    close: () => {
      for (const request of requests) request.destroy();
    },
  };
}

/** One test process plays thousands of clients here: no per-client limits. */
const FLAGS = (redis: RedisServer) => [
  "--redis",
  redis.url,
  "--redis-reply-lease",
  "1500",
  "--typewriter-ms",
  "40",
  "--rate-limit",
  "off",
];

describeMatrix("chat on Redis", (runtime: Runtime) => {
  let redis: RedisServer;
  let a: RunningServer;
  let b: RunningServer;
  const extra: RunningServer[] = [];
  const followers: Follower[] = [];
  const follow = (bases: readonly string[] | (() => readonly string[]), path: string, lastEventId?: string) => {
    const follower = new Follower(typeof bases === "function" ? bases : () => bases, path, lastEventId);
    followers.push(follower);
    return follower;
  };

  beforeAll(async () => {
    if (!haveRedis()) return;
    redis = await startRedis({ appendfsync: "always" });
    [a, b] = await Promise.all([startServer(runtime, FLAGS(redis)), startServer(runtime, FLAGS(redis))]);
  }, 60_000);

  afterAll(async () => {
    for (const follower of followers) follower.close();
    await Promise.allSettled([a, b, ...extra].map((server) => server?.stop()));
    await removeRedis(redis);
  }, 30_000);

  it.skipIf(!haveRedis())(
    "a client on A receives what is posted to B, in the same order and with the same ids",
    async () => {
      const room = freshRoom("order");
      const onA = follow([a.url], `/rooms/${room}/events`);
      const onB = follow([b.url], `/rooms/${room}/events`);
      await waitFor(() => onA.opens > 0 && onB.opens > 0, { what: "both streams to open" });
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await send(i % 2 === 0 ? a.url : b.url, room, `m${i}`));
      for (const follower of [onA, onB]) {
        const got = await follower.untilMessages(30);
        expect(got.map((m) => m.id)).toEqual(ids);
        expect(got.map((m) => m.text)).toEqual(ids.map((_, i) => `m${i}`));
      }
    },
  );

  it.skipIf(!haveRedis())(
    "2 000 subscribers spread over two instances all receive 100 messages in order",
    async () => {
      const room = freshRoom("crowd");
      const [onA, onB] = await Promise.all([crowd(a.url, room, 1000), crowd(b.url, room, 1000)]);
      try {
        const ids: string[] = [];
        for (let i = 0; i < 100; i++) ids.push(await send(i % 2 === 0 ? a.url : b.url, room, `m${i}`));
        const all = [...onA.ids, ...onB.ids];
        await waitFor(() => all.every((seen) => seen.length >= 100), {
          timeoutMs: 30_000,
          what: `every subscriber to have 100 messages (fewest: ${Math.min(...all.map((seen) => seen.length))})`,
        });
        const wrong = all.filter((seen) => seen.join() !== ids.join());
        expect(wrong.length).toBe(0);
      } finally {
        onA.close();
        onB.close();
      }
    },
    60_000,
  );

  it.skipIf(!haveRedis())(
    "SIGKILL of an instance mid-stream and mid-reply: its clients resume on another with everything, none twice; the reply ends visibly",
    async () => {
      const c = await startServer(runtime, FLAGS(redis));
      extra.push(c);
      const room = freshRoom("kill");
      const before = await send(a.url, room, "before");
      const followersOfC = [1, 2, 3].map(() => follow([c.url, a.url], `/rooms/${room}/events`));
      for (const follower of followersOfC) await follower.untilMessages(1, "the replay");
      // C runs the reply: its deltas are flowing when C dies.
      const question = await send(c.url, room, `/bot echo ${Array.from({ length: 80 }, (_, i) => `w${i}`).join(" ")}`);
      for (const follower of followersOfC) {
        await waitFor(() => follower.events.filter((event) => event.type === "reply-delta").length >= 3, {
          what: "a few reply deltas",
        });
      }
      const replyId = followersOfC[0]!.events.find((event) => event.type === "reply-start")!.data.replyId as string;
      await c.stop("SIGKILL");
      const meanwhile: string[] = [];
      for (let i = 0; i < 10; i++) meanwhile.push(await send(i % 2 === 0 ? a.url : b.url, room, `meanwhile ${i}`));
      for (const follower of followersOfC) {
        const got = await waitFor(
          () => {
            const messages = follower.messages();
            return messages.some((m) => m.replyId === replyId) &&
              meanwhile.every((id) => messages.some((m) => m.id === id))
              ? messages
              : undefined;
          },
          { timeoutMs: 20_000, what: "the messages posted meanwhile and the ended reply" },
        );
        const ids = got.map((m) => m.id);
        expect(new Set(ids).size).toBe(ids.length); // none twice
        expect(ids.slice(0, 2)).toEqual([before, question]);
        expect(ids.filter((id) => meanwhile.includes(id))).toEqual(meanwhile);
        const ended = got.find((m) => m.replyId === replyId)!;
        expect(ended).toMatchObject({ user: "bot", error: true });
        expect(ended.text).toMatch(/^w0 w1 w2/);
        expect(ended.text).toContain("[The reply was cut off");
        expect(follower.opens).toBeGreaterThanOrEqual(2);
      }
    },
    60_000,
  );

  it.skipIf(!haveRedis())(
    "a client's post budget is one across instances: spreading posts over two does not double it",
    async () => {
      const limited = [...FLAGS(redis).slice(0, -2), "--post-burst", "6", "--post-rate", "0.01"];
      const [c, d] = await Promise.all([startServer(runtime, limited), startServer(runtime, limited)]);
      extra.push(c, d);
      const room = freshRoom("budget");
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await post(i % 2 === 0 ? c.url : d.url, room, `m${i}`)).status);
      // Each instance alone would have let 6 through (12 in all); together they let 6.
      expect(statuses).toEqual([201, 201, 201, 201, 201, 201, 429, 429, 429, 429]);
      const refused = await post(d.url, room, "again");
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60);
      await Promise.all([c.stop(), d.stop()]);
    },
    30_000,
  );

  it.skipIf(!haveRedis())(
    "a post retried on another instance with its Idempotency-Key is stored once and answered with the first id",
    async () => {
      const env = { EDDY_SESSION_SECRET: "a-secret-both-instances-share-0123456789" };
      const [c, d] = await Promise.all([
        startServer(runtime, FLAGS(redis), { env }),
        startServer(runtime, FLAGS(redis), { env }),
      ]);
      extra.push(c, d);
      const room = freshRoom("retry");
      const cookie = ((await fetch(`${c.url}/session`)).headers.get("set-cookie") ?? "").split(";")[0]!;
      const headers = { "content-type": "application/json", cookie, "idempotency-key": "retry-1" };
      const body = JSON.stringify({ user: "민수", text: "한 번만" });
      const first = await fetch(`${c.url}/rooms/${room}/messages`, { method: "POST", headers, body });
      const again = await fetch(`${d.url}/rooms/${room}/messages`, { method: "POST", headers, body });
      expect([first.status, again.status]).toEqual([201, 201]);
      expect(again.headers.get("idempotent-replayed")).toBe("true");
      const id = ((await first.json()) as { id: string }).id;
      expect(((await again.json()) as { id: string }).id).toBe(id);
      const history = (await (await fetch(`${d.url}/rooms/${room}/messages`)).json()) as { messages: { id: string }[] };
      expect(history.messages.map((m) => m.id)).toEqual([id]);
      await Promise.all([c.stop(), d.stop()]);
    },
    30_000,
  );

  it.skipIf(!haveRedis())(
    "a freshly started instance replays a cursor from Redis alone",
    async () => {
      const room = freshRoom("fresh");
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await send(a.url, room, `m${i}`));
      const d = await startServer(runtime, FLAGS(redis));
      extra.push(d);
      const follower = follow([d.url], `/rooms/${room}/events`, ids[2]);
      const got = await follower.untilMessages(5);
      expect(got.map((m) => m.id)).toEqual(ids.slice(3));
      expect(follower.events.some((event) => event.type === "reset")).toBe(false);
      await d.stop();
    },
    30_000,
  );

  it.skipIf(!haveRedis())("the pub/sub connections killed while another instance publishes: nothing lost", async () => {
    const room = freshRoom("pubsub");
    const onA = follow([a.url], `/rooms/${room}/events`);
    await waitFor(() => onA.opens > 0, { what: "the stream to open" });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 10 || i === 20) await redis.raw("CLIENT", "KILL", "TYPE", "pubsub");
      ids.push(await send(b.url, room, `m${i}`));
    }
    const got = await onA.untilMessages(30);
    expect(got.map((m) => m.id)).toEqual(ids);
    expect(onA.opens).toBe(1);
  });

  it.skipIf(!haveRedis())(
    "a cursor older than the retained history gets reset (history-truncated)",
    async () => {
      const d = await startServer(runtime, [...FLAGS(redis), "--history", "10", "--replay", "5"]);
      extra.push(d);
      const room = freshRoom("trim");
      const first = await send(d.url, room, "m0");
      // MAXLEN ~ trims whole stream nodes (100 entries by default): post well past one.
      for (let i = 1; i < 250; i++) await send(d.url, room, `m${i}`);
      const follower = follow([d.url], `/rooms/${room}/events`, first);
      await waitFor(() => follower.events.some((event) => event.type === "reset"), { what: "a reset" });
      expect(follower.events[0]).toMatchObject({
        type: "reset",
        data: { reason: "history-truncated", lastEventId: first },
      });
      await d.stop();
    },
    30_000,
  );

  it.skipIf(!haveRedis())(
    "Redis restarted with AOF: 503 while down, streams stay open and resume by themselves, nothing that got 201 lost",
    async () => {
      const room = freshRoom("aof");
      const onA = follow([a.url], `/rooms/${room}/events`);
      const ids = [await send(b.url, room, "before")];
      await onA.untilMessages(1);
      await redis.stop({ kill: true });
      for (const server of [a, b]) {
        const health = await waitFor(
          async () => {
            const response = await fetch(`${server.url}/healthz`);
            return response.status === 503 ? ((await response.json()) as { error: string }) : undefined;
          },
          { what: "/healthz to answer 503" },
        );
        expect(health.error).toMatch(/Redis/);
      }
      const refused = await post(b.url, room, "refused");
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: string }).error).toMatch(/Redis/);
      await redis.start();
      await waitFor(async () => (await fetch(`${a.url}/healthz`)).status === 200, { what: "/healthz 200 again" });
      const after = await waitFor(
        async () => {
          const response = await post(b.url, room, "after");
          return response.status === 201 ? ((await response.json()) as { id: string }).id : undefined;
        },
        { what: "a post to succeed again" },
      );
      ids.push(after);
      const got = await onA.untilMessages(2);
      expect(got.map((m) => m.id)).toEqual(ids);
      expect(onA.opens).toBe(1); // the same stream, open all along
      // Everything acknowledged is in Redis, as a fresh client sees it.
      const fresh = follow([b.url], `/rooms/${room}/events?history=10`);
      expect((await fresh.untilMessages(2)).map((m) => m.id)).toEqual(ids);
    },
    60_000,
  );

  it.skipIf(!haveRedis())(
    "Redis restarted empty: old cursors get reset, new messages flow",
    async () => {
      const room = freshRoom("empty");
      const onA = follow([a.url], `/rooms/${room}/events`);
      const old = await send(a.url, room, "old");
      await onA.untilMessages(1);
      await redis.stop({ kill: true });
      await redis.start({ empty: true });
      // Each instance reconnects on its own schedule (jittered backoff): the post below goes to b.
      for (const server of [a, b]) {
        await waitFor(async () => (await fetch(`${server.url}/healthz`)).status === 200, {
          what: `${server.url}/healthz 200 again`,
        });
      }
      // The instance ends the stream it served from the lost data; the client reconnects with its cursor.
      await waitFor(() => onA.events.some((event) => event.type === "reset"), { what: "a reset" });
      const reset = onA.events.find((event) => event.type === "reset")!;
      expect(reset.data).toMatchObject({ reason: "unknown-cursor", lastEventId: old });
      const fresh = await send(b.url, room, "fresh");
      const got = await onA.untilMessages(2);
      expect(got.map((m) => m.id)).toEqual([old, fresh]);
    },
    30_000,
  );
});
