/**
 * connect(): reconnection as the HTML standard describes it (Last-Event-ID, the retry field, 204,
 * failing on other answers), the opt-in backoff (full jitter, cap, Retry-After, maxRetries), the
 * idle watchdog, closing (timers cleared, body cancelled, fetch aborted) and option errors.
 *
 * Runtime-neutral (no node: imports; test/runtimes.test.ts runs it under Bun and Deno too). The
 * network is a fetch stub whose bodies the test writes to; time is vitest's fake clock, advanced
 * to the exact millisecond each wait should end at, so no test sleeps.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { backoffDelay, backoffPolicy } from "../core/_backoff.ts";
import { parseRetryAfter } from "../core/_retry-after.ts";
import {
  ConnectError,
  type ConnectOptions,
  connect,
  EventStreamSizeError,
  type RetryInfo,
  type ServerSentEvent,
} from "../core/mod.ts";

const utf8 = new TextEncoder();
const URL_ = "https://example.test/events";
const SSE = { "content-type": "text/event-stream" };

/** A response body the test writes to, and whether the client cancelled it. */
function body() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return {
    stream,
    get cancelled() {
      return state.cancelled;
    },
    send(chunk: string | Uint8Array) {
      controller.enqueue(typeof chunk === "string" ? utf8.encode(chunk) : chunk);
    },
    end() {
      controller.close();
    },
    fail(error: unknown) {
      controller.error(error);
    },
  };
}
type Body = ReturnType<typeof body>;

type Answer = Body | Response | Error | "never" | ((request: Request) => Response | Promise<Response>);

/**
 * A fetch stub answering the n-th request with `answers[n]` (the last one repeats): a body (sent
 * as a 200 event stream), a Response, an Error (a network error), or "never" (a fetch that hangs
 * and ignores its signal). It records every request.
 */
function server(...answers: Answer[]) {
  const requests: Request[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    requests.push(request);
    const answer = answers[Math.min(requests.length, answers.length) - 1]!;
    if (answer === "never") return new Promise<Response>(() => {});
    if (answer instanceof Error) throw answer;
    if (answer instanceof Response) return answer.clone();
    if (typeof answer === "function") return answer(request);
    return new Response(answer.stream, { headers: SSE });
  };
  return { fetch, requests, lastEventIds: () => requests.map((r) => r.headers.get("last-event-id")) };
}

/** Lets every pending promise settle, then moves the fake clock on by `ms`. */
const tick = (ms = 0) => vi.advanceTimersByTimeAsync(ms);

const message = (data: string, lastEventId = ""): ServerSentEvent => ({ type: "message", data, lastEventId });
const event = (value: ServerSentEvent) => ({ done: false, value });
const DONE = { done: true, value: undefined };

/** What `promise` rejected with (it must reject). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

/** Records the hooks' calls, in order. */
function hooks() {
  const calls: string[] = [];
  const retries: RetryInfo[] = [];
  const errors: unknown[] = [];
  const options: ConnectOptions = {
    onOpen: (response) => void calls.push(`open ${response.status}`),
    onRetry: (info) => {
      retries.push(info);
      calls.push(`retry ${info.reason} ${info.delay}`);
    },
    onError: (error) => {
      errors.push(error);
      calls.push(`error ${error instanceof Error ? error.name : String(error)}`);
    },
  };
  return { calls, retries, errors, options };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("reconnecting as EventSource does", () => {
  test("yields the body's events and, once it ends, reconnects after 3 s with Last-Event-ID", async () => {
    const [first, second] = [body(), body()];
    const { fetch, requests, lastEventIds } = server(first, second);
    const seen = hooks();
    const events = connect(URL_, { fetch, ...seen.options });
    expect(events.readyState).toBe("connecting");
    expect(requests).toHaveLength(0); // nothing is fetched before the first next()
    first.send("id: 7\ndata: a\n\n");
    expect(await events.next()).toEqual(event(message("a", "7")));
    expect(events.readyState).toBe("open");
    expect(events.lastEventId).toBe("7");
    first.end();
    const pending = events.next();
    await tick(2999);
    expect(requests).toHaveLength(1);
    expect(events.readyState).toBe("connecting");
    await tick(1);
    expect(requests).toHaveLength(2);
    expect(lastEventIds()).toEqual([null, "7"]);
    expect(requests[1]!.headers.get("accept")).toBe("text/event-stream");
    expect(requests[1]!.cache).toBe("no-store");
    second.send("data: b\n\n"); // no id: the event carries the last event ID string
    expect(await pending).toEqual(event(message("b", "7")));
    expect(seen.calls).toEqual(["open 200", "retry end 3000", "open 200"]);
    expect(seen.retries).toEqual([{ delay: 3000, attempt: 1, reason: "end" }]);
    events.close();
    expect(second.cancelled).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("the retry field sets the reconnection time; a value that is not all digits is ignored", async () => {
    const [first, second] = [body(), body()];
    const { fetch, requests } = server(first, second);
    const events = connect(URL_, { fetch });
    first.send("retry: 500\nretry: 1e3\nretry: -1\nretry:  200\ndata: a\n\n");
    await events.next();
    expect(events.reconnectionTime).toBe(500);
    first.end();
    const pending = events.next();
    await tick(499);
    expect(requests).toHaveLength(1);
    await tick(1);
    expect(requests).toHaveLength(2);
    second.send("retry: 0\ndata: b\n\n");
    await pending;
    expect(events.reconnectionTime).toBe(0);
    events.close();
  });

  test("an unfinished event is discarded at the end of a body, its id with it; an empty id clears Last-Event-ID", async () => {
    const [first, second, third] = [body(), body(), body()];
    const { fetch, lastEventIds } = server(first, second, third);
    const events = connect(URL_, { fetch, reconnectionTime: 10 });
    first.send("id: 1\ndata: a\n\nid: 2\ndata: partial");
    first.end();
    expect(await events.next()).toEqual(event(message("a", "1")));
    const pending = events.next();
    await tick(10);
    second.send("id\ndata: c\n\n");
    expect(await pending).toEqual(event(message("c", "")));
    second.end();
    const later = events.next();
    await tick(10);
    third.send("data: d\n\n");
    expect(await later).toEqual(event(message("d", "")));
    expect(lastEventIds()).toEqual([null, "1", null]);
    events.close();
  });

  test("the lastEventId option is sent from the first request on, and events without an id carry it", async () => {
    const stream = body();
    const { fetch, lastEventIds } = server(stream);
    const events = connect(URL_, { fetch, lastEventId: "41" });
    expect(events.lastEventId).toBe("41");
    stream.send("data: a\n\nid: 42\ndata: b\n\n");
    expect(await events.next()).toEqual(event(message("a", "41")));
    expect(await events.next()).toEqual(event(message("b", "42")));
    expect(lastEventIds()).toEqual(["41"]);
    events.close();
  });

  test("Last-Event-ID carries the id's UTF-8 bytes", async () => {
    const [first, second] = [body(), body()];
    const { fetch, lastEventIds } = server(first, second);
    const events = connect(URL_, { fetch, reconnectionTime: 0 });
    first.send("id: é€😀\ndata: a\n\n");
    first.end();
    await events.next();
    const pending = events.next();
    await tick();
    const header = lastEventIds()[1]!;
    expect(Array.from(header, (c) => c.charCodeAt(0))).toEqual([...utf8.encode("é€😀")]);
    events.close();
    expect(await pending).toEqual(DONE);
  });

  test("an id with a control character fails the connection at the reconnect: no header can carry it", async () => {
    const stream = body();
    const { fetch, requests } = server(stream);
    const seen = hooks();
    const events = connect(URL_, { fetch, reconnectionTime: 0, ...seen.options });
    stream.send("id: a\u0001b\ndata: x\n\n");
    stream.end();
    expect(await events.next()).toEqual(event(message("x", "a\u0001b")));
    const failed = rejection(events.next());
    await tick();
    const error = await failed;
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toBe(
      'Cannot reconnect to https://example.test/events: the last event ID "a\\u0001b" holds a control character, which no HTTP header can carry as Last-Event-ID',
    );
    expect(seen.errors).toEqual([error]);
    expect(requests).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    // A tab is fine.
    const tabbed = server(body());
    const resumed = connect(URL_, { fetch: tabbed.fetch, lastEventId: "a\tb" });
    const pending = resumed.next();
    await tick();
    expect(tabbed.lastEventIds()).toEqual(["a\tb"]);
    resumed.close();
    await pending;
  });

  test("a 204 answer ends the iteration without reconnecting, also on a reconnect", async () => {
    const first = server(new Response(null, { status: 204 }));
    const events = connect(URL_, { fetch: first.fetch });
    expect(await events.next()).toEqual(DONE);
    expect(events.readyState).toBe("closed");
    expect(first.requests).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);

    const stream = body();
    const second = server(stream, new Response(null, { status: 204 }));
    const seen = hooks();
    const again = connect(URL_, { fetch: second.fetch, reconnectionTime: 5, ...seen.options });
    stream.send("data: a\n\n");
    stream.end();
    const collected: ServerSentEvent[] = [];
    const done = (async () => {
      for await (const value of again) collected.push(value);
    })();
    await tick(5);
    await done;
    expect(collected).toEqual([message("a")]);
    expect(second.requests).toHaveLength(2);
    expect(seen.errors).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a 500 answer fails the connection: the iterator throws a ConnectError naming the status", async () => {
    const { fetch, requests } = server(new Response("oops", { status: 500, statusText: "Internal Server Error" }));
    const seen = hooks();
    const events = connect("https://example.test/events?token=secret#x", { fetch, ...seen.options });
    const error = await rejection(events.next());
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ reason: "status", status: 500, name: "ConnectError" });
    // The URL without its query and fragment: they may hold secrets.
    expect((error as Error).message).toBe(
      "Cannot connect to https://example.test/events: the server answered 500 Internal Server Error, not 200",
    );
    expect(seen.errors).toEqual([error]);
    expect(events.readyState).toBe("closed");
    expect(await events.next()).toEqual(DONE); // thrown once
    await tick(60_000);
    expect(requests).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("without backoff a 503 fails too: the spec reconnects only after a network error or the end of a body", async () => {
    const { fetch, requests } = server(new Response(null, { status: 503, headers: { "retry-after": "1" } }));
    const error = await rejection(connect(URL_, { fetch }).next());
    expect(error).toMatchObject({ reason: "status", status: 503 });
    expect(requests).toHaveLength(1);
  });

  test("a 200 answer that is not text/event-stream fails the connection", async () => {
    const html = server(new Response("<!doctype html>", { headers: { "content-type": "text/html; charset=utf-8" } }));
    const error = await rejection(connect(URL_, { fetch: html.fetch }).next());
    expect(error).toMatchObject({ reason: "content-type", status: 200 });
    expect((error as Error).message).toBe(
      'Cannot connect to https://example.test/events: the response is "text/html; charset=utf-8", not text/event-stream',
    );
    const none = server(() => new Response(utf8.encode("data: a\n\n")));
    expect(((await rejection(connect(URL_, { fetch: none.fetch }).next())) as Error).message).toBe(
      "Cannot connect to https://example.test/events: the response has no Content-Type, not text/event-stream",
    );
    // The MIME type's essence counts: any case, parameters ignored.
    const upper = server(
      () => new Response("data: a\n\n", { headers: { "content-type": "Text/Event-Stream ; charset=utf-8" } }),
    );
    const events = connect(URL_, { fetch: upper.fetch });
    expect(await events.next()).toEqual(event(message("a")));
    events.close();
  });

  test("a network error reconnects after the reconnection time, as often as it takes", async () => {
    const stream = body();
    const failure = new TypeError("fetch failed");
    const { fetch, requests } = server(failure, failure, failure, stream);
    const seen = hooks();
    const events = connect(URL_, { fetch, ...seen.options });
    const pending = events.next();
    await tick();
    expect(requests).toHaveLength(1);
    for (const n of [2, 3, 4]) {
      await tick(2999);
      expect(requests).toHaveLength(n - 1);
      await tick(1);
      expect(requests).toHaveLength(n);
    }
    stream.send("data: a\n\n");
    expect(await pending).toEqual(event(message("a")));
    expect(seen.errors).toEqual([failure, failure, failure]);
    expect(seen.retries.map(({ attempt, delay, reason }) => `${attempt} ${delay} ${reason}`)).toEqual([
      "1 3000 network",
      "2 3000 network",
      "3 3000 network",
    ]);
    events.close();
  });

  test("a body that fails mid-stream reconnects; the events before the failure are delivered first", async () => {
    const [first, second] = [body(), body()];
    const { fetch, lastEventIds } = server(first, second);
    const seen = hooks();
    const events = connect(URL_, { fetch, reconnectionTime: 100, ...seen.options });
    first.send("id: 1\ndata: a\n\ndata: lost");
    expect(await events.next()).toEqual(event(message("a", "1")));
    const reset = new TypeError("terminated");
    first.fail(reset);
    const pending = events.next();
    await tick(100);
    second.send("data: b\n\n");
    expect(await pending).toEqual(event(message("b", "1")));
    expect(lastEventIds()).toEqual([null, "1"]);
    expect(seen.errors).toEqual([reset]);
    expect(seen.retries).toEqual([{ delay: 100, attempt: 1, reason: "network" }]);
    events.close();
  });

  test("a 200 event stream without a body counts as one that ended at once", async () => {
    const stream = body();
    const { fetch, requests } = server(new Response(null, { headers: SSE }), stream);
    const seen = hooks();
    const events = connect(URL_, { fetch, reconnectionTime: 1, ...seen.options });
    const pending = events.next();
    await tick(1);
    expect(requests).toHaveLength(2);
    stream.send("data: a\n\n");
    expect(await pending).toEqual(event(message("a")));
    expect(seen.calls).toEqual(["open 200", "retry end 1", "open 200"]);
    events.close();
  });

  test("next() calls made at once are answered in order", async () => {
    const stream = body();
    const { fetch } = server(stream);
    const events = connect(URL_, { fetch });
    const [a, b, c] = [events.next(), events.next(), events.next()];
    stream.send("data: 1\n\ndata: 2\n\n");
    expect(await a).toEqual(event(message("1")));
    expect(await b).toEqual(event(message("2")));
    events.close();
    expect(await c).toEqual(DONE);
  });
});

describe("reconnect: false (one request only)", () => {
  test("the end of the body ends the iteration after its events; nothing is fetched again", async () => {
    const only = body();
    const { fetch, requests } = server(only, body());
    const seen = hooks();
    const events = connect(URL_, { fetch, reconnect: false, method: "POST", body: "{}", ...seen.options });
    only.send("data: a\n\ndata: b\n\n");
    only.end();
    expect(await events.next()).toEqual(event(message("a")));
    expect(await events.next()).toEqual(event(message("b")));
    expect(await events.next()).toEqual(DONE);
    await tick(10_000);
    expect(requests).toHaveLength(1);
    expect(events.readyState).toBe("closed");
    expect(seen.calls).toEqual(["open 200"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a network error or a failed body fails the iteration with that error instead of reconnecting", async () => {
    const cut = new Error("socket hang up");
    const refused = connect(URL_, { fetch: server(new TypeError("fetch failed")).fetch, reconnect: false });
    expect(await rejection(refused.next())).toEqual(new TypeError("fetch failed"));
    const broken = body();
    const { fetch, requests } = server(broken);
    const events = connect(URL_, { fetch, reconnect: false });
    broken.send("data: before\n\n");
    expect(await events.next()).toEqual(event(message("before")));
    broken.fail(cut);
    expect(await rejection(events.next())).toBe(cut);
    expect(requests).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("the idle watchdog fails it too", async () => {
    const silent = body();
    const events = connect(URL_, { fetch: server(silent).fetch, reconnect: false, idleTimeout: 1000 });
    const pending = rejection(events.next());
    await tick(1000);
    expect(await pending).toMatchObject({ name: "ConnectError", reason: "idle" });
    expect(silent.cancelled).toBe(true);
  });

  test("reconnect must be a boolean, and backoff needs it", () => {
    expect(() => connect(URL_, { reconnect: "no" as unknown as boolean })).toThrow(
      new TypeError('Cannot connect: "reconnect" must be a boolean, received "no"'),
    );
    expect(() => connect(URL_, { reconnect: false, backoff: true })).toThrow(
      new TypeError('Cannot connect: "backoff" needs "reconnect"; it is false'),
    );
  });
});

describe("backoff", () => {
  /** A `random` returning `shares` in turn. */
  const sequence = (...shares: number[]) => {
    let i = 0;
    return () => shares[i++ % shares.length]!;
  };

  test("waits the reconnection time plus full jitter over a window that doubles per failed attempt, up to maxDelay", async () => {
    const stream = body();
    const failure = new TypeError("fetch failed");
    const { fetch, requests } = server(failure, failure, failure, failure, failure, stream);
    const seen = hooks();
    const random = sequence(0.5, 0.25, 0.75, 0.999, 0);
    const events = connect(URL_, {
      fetch,
      reconnectionTime: 10,
      backoff: { initialDelay: 100, maxDelay: 500, random },
      ...seen.options,
    });
    const pending = events.next();
    await tick();
    // Windows 100, 200, 400, 500 (capped), 500; waits 10 + floor(share * window).
    const expected = [10 + 50, 10 + 50, 10 + 300, 10 + 499, 10 + 0];
    for (const [i, delay] of expected.entries()) {
      await tick(delay - 1);
      expect(requests).toHaveLength(i + 1);
      await tick(1);
      expect(requests).toHaveLength(i + 2);
    }
    expect(seen.retries).toEqual(expected.map((delay, i) => ({ delay, attempt: i + 1, reason: "network" })));
    stream.send("data: a\n\n");
    expect(await pending).toEqual(event(message("a")));
    events.close();
  });

  test("`backoff: true` uses the defaults: 3 s plus up to 1 s, 2 s, 4 s ...", async () => {
    const failure = new TypeError("fetch failed");
    const { fetch } = server(failure);
    const seen = hooks();
    const random = vi.spyOn(Math, "random").mockReturnValue(0.5);
    const events = connect(URL_, { fetch, backoff: true, ...seen.options });
    const pending = events.next();
    await tick(3500 + 4000 + 5000);
    expect(seen.retries.map(({ delay }) => delay)).toEqual([3500, 4000, 5000, 7000]);
    random.mockRestore();
    events.close();
    expect(await pending).toEqual(DONE);
  });

  test("retries 502, 503 and 504 answers, honouring Retry-After in seconds and as an HTTP-date", async () => {
    vi.setSystemTime(new Date("2025-01-01T00:00:00Z"));
    const stream = body();
    const { fetch, requests } = server(
      new Response(null, { status: 503, headers: { "retry-after": "10" } }),
      new Response(null, { status: 502, headers: { "retry-after": "Wed, 01 Jan 2025 00:00:40 GMT" } }),
      new Response(null, { status: 504 }),
      stream,
    );
    const seen = hooks();
    const events = connect(URL_, {
      fetch,
      reconnectionTime: 0,
      backoff: { initialDelay: 1000, random: () => 0.5 },
      ...seen.options,
    });
    const pending = events.next();
    await tick();
    await tick(9999);
    expect(requests).toHaveLength(1);
    await tick(1); // t = 10 s: Retry-After 10 beats 0 + 500
    expect(requests).toHaveLength(2);
    await tick(29_999);
    expect(requests).toHaveLength(2);
    await tick(1); // t = 40 s, the date
    expect(requests).toHaveLength(3);
    await tick(1999);
    expect(requests).toHaveLength(3);
    await tick(1); // no Retry-After: 0 + 0.5 * 4000
    expect(requests).toHaveLength(4);
    stream.send("data: a\n\n");
    expect(await pending).toEqual(event(message("a")));
    expect(seen.retries).toEqual([
      { delay: 10_000, attempt: 1, reason: "status" },
      { delay: 30_000, attempt: 2, reason: "status" },
      { delay: 2000, attempt: 3, reason: "status" },
    ]);
    expect(seen.errors.map((error) => (error as ConnectError).status)).toEqual([503, 502, 504]);
    events.close();
  });

  test("gives up after maxRetries failed attempts in a row, with the last error as the cause", async () => {
    const failure = new TypeError("fetch failed");
    const network = server(failure);
    const seen = hooks();
    const events = connect(URL_, {
      fetch: network.fetch,
      backoff: { maxRetries: 2, random: () => 0 },
      ...seen.options,
    });
    const failed = rejection(events.next());
    await tick(3000);
    await tick(3000);
    const error = await failed;
    expect(network.requests).toHaveLength(3);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({ reason: "attempts", status: undefined, cause: failure });
    expect((error as Error).message).toBe(
      "Cannot connect to https://example.test/events: gave up after 2 reconnection attempts in a row (backoff.maxRetries)",
    );
    expect(seen.errors).toEqual([failure, failure, failure, error]);
    expect(vi.getTimerCount()).toBe(0);

    const busy = server(new Response(null, { status: 503 }));
    const again = connect(URL_, { fetch: busy.fetch, backoff: { maxRetries: 0 } });
    expect(await rejection(again.next())).toMatchObject({ reason: "attempts", status: 503 });
    expect(busy.requests).toHaveLength(1);
  });

  test("an announced connection starts the count again", async () => {
    const [first, second] = [body(), body()];
    const failure = new TypeError("fetch failed");
    const { fetch } = server(failure, first, failure, second);
    const seen = hooks();
    const events = connect(URL_, {
      fetch,
      reconnectionTime: 1,
      backoff: { maxRetries: 2, random: () => 0 },
      ...seen.options,
    });
    const a = events.next();
    first.send("data: a\n\n");
    first.end();
    await tick(5);
    expect(await a).toEqual(event(message("a")));
    const b = events.next();
    second.send("data: b\n\n");
    await tick(5);
    expect(await b).toEqual(event(message("b")));
    expect(seen.retries.map(({ attempt, reason }) => `${attempt} ${reason}`)).toEqual([
      "1 network",
      "1 end",
      "2 network",
    ]);
    events.close();
  });

  test("other answers still fail at once", async () => {
    for (const status of [400, 401, 404, 429, 500]) {
      const { fetch, requests } = server(new Response(null, { status }));
      const error = await rejection(connect(URL_, { fetch, backoff: true }).next());
      expect(error).toMatchObject({ reason: "status", status });
      expect(requests).toHaveLength(1);
    }
  });
});

describe("the idle watchdog", () => {
  test("a body that stops sending but stays open is dropped after idleTimeout and reopened with Last-Event-ID", async () => {
    const [first, second] = [body(), body()];
    const { fetch, requests, lastEventIds } = server(first, second);
    const seen = hooks();
    const comments: string[] = [];
    const events = connect(URL_, {
      fetch,
      idleTimeout: 1000,
      onComment: (text) => void comments.push(text),
      ...seen.options,
    });
    first.send("id: 5\ndata: a\n\n");
    expect(await events.next()).toEqual(event(message("a", "5")));
    const pending = events.next();
    await tick(999);
    first.send(": heartbeat\n"); // any byte counts
    await tick(999);
    expect(first.cancelled).toBe(false);
    expect(comments).toEqual(["heartbeat"]);
    await tick(1);
    expect(first.cancelled).toBe(true);
    expect(seen.errors).toHaveLength(1);
    expect(seen.errors[0]).toMatchObject({ reason: "idle", name: "ConnectError" });
    expect((seen.errors[0] as Error).message).toBe(
      "The connection to https://example.test/events went idle: nothing received for 1000 ms (idleTimeout)",
    );
    expect(seen.retries).toEqual([{ delay: 3000, attempt: 1, reason: "idle" }]);
    await tick(3000);
    expect(requests).toHaveLength(2);
    expect(lastEventIds()).toEqual([null, "5"]);
    second.send("data: b\n\n");
    expect(await pending).toEqual(event(message("b", "5")));
    events.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  test("it bounds the wait for the response too, even if the fetch ignores its signal", async () => {
    const stream = body();
    const { fetch, requests } = server("never", stream);
    const seen = hooks();
    const events = connect(URL_, { fetch, idleTimeout: 500, reconnectionTime: 10, ...seen.options });
    const pending = events.next();
    await tick(499);
    expect(requests).toHaveLength(1);
    await tick(1);
    expect(requests[0]!.signal.aborted).toBe(true);
    await tick(10);
    expect(requests).toHaveLength(2);
    stream.send("data: a\n\n");
    expect(await pending).toEqual(event(message("a")));
    expect(seen.retries).toEqual([{ delay: 10, attempt: 1, reason: "idle" }]);
    events.close();
  });

  test("it does not run while the caller holds an event, only while the iterator waits for bytes", async () => {
    const stream = body();
    const { fetch } = server(stream);
    const events = connect(URL_, { fetch, idleTimeout: 1000 });
    stream.send("data: a\n\n");
    await events.next();
    expect(vi.getTimerCount()).toBe(0);
    await tick(5000);
    expect(stream.cancelled).toBe(false);
    events.close();
  });
});

describe("closing", () => {
  test("close() while waiting for bytes: the pending next() ends, the body is cancelled, the fetch aborted, the watchdog cleared", async () => {
    const stream = body();
    const { fetch, requests } = server(stream);
    const events = connect(URL_, { fetch, idleTimeout: 10_000 });
    stream.send("data: a\n\n");
    await events.next();
    const pending = events.next();
    await tick();
    expect(vi.getTimerCount()).toBe(1);
    events.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(await pending).toEqual(DONE);
    expect(stream.cancelled).toBe(true);
    expect(requests[0]!.signal.aborted).toBe(true);
    expect(events.readyState).toBe("closed");
    events.close(); // again: nothing
    expect(await events.next()).toEqual(DONE);
  });

  test("close() during the reconnect wait clears its timer at once", async () => {
    const stream = body();
    const { fetch, requests } = server(stream);
    const events = connect(URL_, { fetch });
    stream.end();
    const pending = events.next();
    await tick(1000);
    expect(vi.getTimerCount()).toBe(1);
    events.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(await pending).toEqual(DONE);
    await tick(60_000);
    expect(requests).toHaveLength(1);
  });

  test("close() while the fetch is pending: next() ends at once, and a late response's body is cancelled", async () => {
    const stream = body();
    let answer!: (response: Response) => void;
    const { fetch, requests } = server(() => new Promise<Response>((resolve) => (answer = resolve)));
    const events = connect(URL_, { fetch });
    const pending = events.next();
    await tick();
    events.close();
    expect(await pending).toEqual(DONE);
    expect(requests[0]!.signal.aborted).toBe(true);
    answer(new Response(stream.stream, { headers: SSE }));
    await tick();
    expect(stream.cancelled).toBe(true);
  });

  test("breaking out of for await closes the connection", async () => {
    const stream = body();
    const { fetch, requests } = server(stream);
    const events = connect(URL_, { fetch, idleTimeout: 1000 });
    stream.send("data: a\n\ndata: b\n\n");
    for await (const value of events) {
      expect(value).toEqual(message("a"));
      break;
    }
    expect(events.readyState).toBe("closed");
    expect(stream.cancelled).toBe(true);
    expect(requests[0]!.signal.aborted).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(await events.next()).toEqual(DONE); // the queued "b" is dropped
  });

  test("aborting the signal closes it, while reading or while waiting to reconnect", async () => {
    const stream = body();
    const reading = new AbortController();
    const one = server(stream);
    const events = connect(URL_, { fetch: one.fetch, signal: reading.signal });
    const pending = events.next();
    await tick();
    reading.abort();
    expect(await pending).toEqual(DONE);
    expect(stream.cancelled).toBe(true);

    const waiting = new AbortController();
    const cut = body();
    const two = server(cut);
    const again = connect(URL_, { fetch: two.fetch, signal: waiting.signal });
    cut.end();
    const later = again.next();
    await tick(100);
    expect(vi.getTimerCount()).toBe(1);
    waiting.abort();
    expect(vi.getTimerCount()).toBe(0);
    expect(await later).toEqual(DONE);
    expect(again.readyState).toBe("closed");
    await tick(60_000);
    expect(two.requests).toHaveLength(1);
  });

  test("an already aborted signal: nothing is fetched", async () => {
    const { fetch, requests } = server(body());
    const events = connect(URL_, { fetch, signal: AbortSignal.abort() });
    expect(events.readyState).toBe("closed");
    expect(await events.next()).toEqual(DONE);
    expect(requests).toHaveLength(0);
  });

  test("a Request input's own signal closes it too", async () => {
    const stream = body();
    const controller = new AbortController();
    const { fetch } = server(stream);
    const events = connect(new Request(URL_, { signal: controller.signal }), { fetch });
    const pending = events.next();
    await tick();
    controller.abort();
    expect(await pending).toEqual(DONE);
    expect(stream.cancelled).toBe(true);
  });

  test("the hooks may close it: onOpen before the body is read, onRetry before the wait", async () => {
    const stream = body();
    const open = server(stream);
    const events = connect(URL_, { fetch: open.fetch, onOpen: () => events.close() });
    expect(await events.next()).toEqual(DONE);
    expect(stream.cancelled).toBe(true);

    const ended = body();
    const retry = server(ended);
    const again = connect(URL_, { fetch: retry.fetch, onRetry: () => again.close() });
    ended.end();
    expect(await again.next()).toEqual(DONE);
    expect(vi.getTimerCount()).toBe(0);
  });

  test("a hook that throws fails the iteration with its error and closes the connection", async () => {
    const stream = body();
    const { fetch } = server(stream);
    const oops = new Error("oops");
    const events = connect(URL_, {
      fetch,
      onComment: () => {
        throw oops;
      },
    });
    stream.send(": hi\n");
    expect(await rejection(events.next())).toBe(oops);
    expect(events.readyState).toBe("closed");
    expect(stream.cancelled).toBe(true);
  });
});

describe("requests", () => {
  test("method, headers and body are sent again on every attempt", async () => {
    for (const payload of ['{"room":"lobby"}', new URLSearchParams({ room: "lobby" }), utf8.encode("bytes")]) {
      const [first, second] = [body(), body()];
      const { fetch, requests } = server(first, second);
      const events = connect(URL_, {
        fetch,
        method: "POST",
        headers: { authorization: "Bearer t", accept: "text/event-stream, */*" },
        body: payload,
        reconnectionTime: 0,
      });
      first.end();
      const pending = events.next();
      await tick();
      expect(requests).toHaveLength(2);
      const expected = payload instanceof Uint8Array ? "bytes" : String(payload);
      for (const request of requests) {
        expect(request.method).toBe("POST");
        expect(request.headers.get("authorization")).toBe("Bearer t");
        expect(request.headers.get("accept")).toBe("text/event-stream, */*");
        expect(await request.text()).toBe(expected);
      }
      events.close();
      await pending;
    }
  });

  test("a Request input lends its method and headers", async () => {
    const { fetch, requests } = server(body());
    const input = new Request(URL_, { method: "PUT", headers: { "x-room": "lobby" } });
    const events = connect(input, { fetch, body: "x" });
    expect(events.url).toBe(URL_);
    const pending = events.next();
    await tick();
    expect(requests[0]!.method).toBe("PUT");
    expect(requests[0]!.headers.get("x-room")).toBe("lobby");
    events.close();
    await pending;
  });

  test("the default fetch is globalThis.fetch, called as a plain function", async () => {
    const stream = body();
    const spy = vi
      .spyOn(globalThis, "fetch")
      .mockImplementation(async () => new Response(stream.stream, { headers: SSE }));
    try {
      const events = connect(new URL(URL_));
      stream.send("data: a\n\n");
      expect(await events.next()).toEqual(event(message("a")));
      expect(spy).toHaveBeenCalledTimes(1);
      events.close();
    } finally {
      spy.mockRestore();
    }
  });

  test("maxEventSize: an oversized event fails the connection with EventStreamSizeError, after the events before it", async () => {
    const stream = body();
    const { fetch } = server(stream);
    const seen = hooks();
    const events = connect(URL_, { fetch, maxEventSize: 16, ...seen.options });
    stream.send("data: ok\n\ndata: far too long for the bound\n\n");
    expect(await events.next()).toEqual(event(message("ok")));
    const error = await rejection(events.next());
    expect(error).toBeInstanceOf(EventStreamSizeError);
    expect(seen.errors).toEqual([error]);
    expect(stream.cancelled).toBe(true);
  });
});

describe("argument errors", () => {
  const { fetch } = server(body());
  const cases: [string, () => unknown, ErrorConstructor, string][] = [
    [
      "input",
      () => connect(42 as unknown as string),
      TypeError,
      'Cannot connect: "input" must be a URL string, a URL or a Request, received number 42',
    ],
    [
      "options",
      () => connect(URL_, null as unknown as ConnectOptions),
      TypeError,
      'Cannot connect: "options" must be an object, received null',
    ],
    [
      "fetch",
      () => connect(URL_, { fetch: "no" as unknown as ConnectOptions["fetch"] }),
      TypeError,
      'Cannot connect: "fetch" must be a function, received "no"',
    ],
    [
      "onRetry",
      () => connect(URL_, { onRetry: 1 as unknown as ConnectOptions["onRetry"] }),
      TypeError,
      'Cannot connect: "onRetry" must be a function, received number 1',
    ],
    [
      "method",
      () => connect(URL_, { method: 1 as unknown as string }),
      TypeError,
      'Cannot connect: "method" must be an HTTP method name (a token), received number 1',
    ],
    [
      "method name",
      () => connect(URL_, { method: "no method" }),
      TypeError,
      'Cannot connect: "method" must be an HTTP method name (a token), received "no method"',
    ],
    [
      "signal",
      () => connect(URL_, { signal: {} as AbortSignal }),
      TypeError,
      'Cannot connect: "signal" must be an AbortSignal, received object',
    ],
    [
      "lastEventId with LF",
      () => connect(URL_, { lastEventId: "a\nb" }),
      TypeError,
      'Cannot connect: "lastEventId" must be a string without control characters (tab aside), received "a\\nb"',
    ],
    [
      "a ReadableStream body",
      () => connect(URL_, { method: "POST", body: new ReadableStream() as unknown as string }),
      TypeError,
      'Cannot connect: "body" must be one every reconnect can send again (a string, ArrayBuffer, typed array, DataView, Blob, FormData or URLSearchParams), received a ReadableStream, which can be read only once',
    ],
    [
      "a body on GET",
      () => connect(URL_, { body: "x" }),
      TypeError,
      'Cannot connect: a GET request cannot have a "body"; set "method", e.g. to "POST"',
    ],
    [
      "a Request with a body",
      () => connect(new Request(URL_, { method: "POST", body: "x" })),
      TypeError,
      'Cannot connect: the Request\'s body can be read only once, but every reconnect sends it again; pass it as the "body" option instead',
    ],
    [
      "a Last-Event-ID header",
      () => connect(URL_, { headers: { "Last-Event-ID": "1" } }),
      TypeError,
      'Cannot connect: set the "lastEventId" option instead of a Last-Event-ID header (connect sends the header on every reconnect)',
    ],
    [
      "reconnectionTime",
      () => connect(URL_, { reconnectionTime: -1 }),
      RangeError,
      'Cannot connect: "reconnectionTime" must be a non-negative safe integer of milliseconds, received number -1',
    ],
    [
      "idleTimeout",
      () => connect(URL_, { idleTimeout: 0 }),
      RangeError,
      'Cannot connect: "idleTimeout" must be a positive finite number of milliseconds, received number 0',
    ],
    [
      "maxEventSize",
      () => connect(URL_, { maxEventSize: 0 }),
      RangeError,
      'Cannot connect: "maxEventSize" must be a positive number, received number 0',
    ],
    [
      "backoff",
      () => connect(URL_, { backoff: "on" as unknown as boolean }),
      TypeError,
      'Cannot connect: "backoff" must be a boolean or an object, received "on"',
    ],
    [
      "backoff.maxRetries",
      () => connect(URL_, { backoff: { maxRetries: 1.5 } }),
      RangeError,
      'Cannot connect: "backoff.maxRetries" must be a non-negative safe integer or Infinity, received number 1.5',
    ],
    [
      "backoff.initialDelay",
      () => connect(URL_, { backoff: { initialDelay: Infinity } }),
      RangeError,
      'Cannot connect: "backoff.initialDelay" must be a positive finite number of milliseconds, received number Infinity',
    ],
    [
      "backoff.random",
      () => connect(URL_, { backoff: { random: 0.5 as unknown as () => number } }),
      TypeError,
      'Cannot connect: "backoff.random" must be a function, received number 0.5',
    ],
  ];
  for (const [name, call, type, text] of cases) {
    test(`a bad ${name} throws a ${type.name} at the call`, () => {
      expect(call).toThrow(type);
      expect(call).toThrow(text);
    });
  }

  test("the platform's Request checks the URL", () => {
    expect(() => connect("not a url", { fetch })).toThrow(TypeError);
  });

  test("a random outside [0, 1) fails the iteration with a RangeError", async () => {
    const failure = new TypeError("fetch failed");
    const { fetch } = server(failure);
    const events = connect(URL_, { fetch, backoff: { random: () => 1 } });
    const error = await rejection(events.next());
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toBe(
      'Cannot connect: "backoff.random" must return a number in [0, 1), returned number 1',
    );
  });
});

describe("Retry-After", () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 7); // 30 s before the RFC's example date
  test.each([
    ["120", 120_000],
    ["0", 0],
    [" 5 ", 5000],
    ["Sun, 06 Nov 1994 08:49:37 GMT", 30_000], // IMF-fixdate
    ["Sunday, 06-Nov-94 08:49:37 GMT", 30_000], // RFC 850
    ["Sun Nov  6 08:49:37 1994", 30_000], // asctime
    ["Sun, 06 Nov 1994 08:48:37 GMT", 0], // in the past
  ])("%j waits %d ms", (value, ms) => {
    expect(parseRetryAfter(value, now)).toBe(ms);
  });

  test.each([
    null,
    "",
    "-1",
    "1.5",
    "soon",
    "sun, 06 Nov 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 08:49:37 UTC",
    "Sun, 31 Apr 1994 08:49:37 GMT",
    "Sun, 06 Nov 1994 24:00:00 GMT",
    "Sun Nov 6 08:49:37 1994",
  ])("%j is not a Retry-After value", (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  test("an RFC 850 two-digit year more than 50 years ahead is in the past century", () => {
    const in2030 = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter("Wednesday, 01-Jan-81 00:00:00 GMT", in2030)).toBe(0); // 2081 is 51 years ahead: 1981
    expect(parseRetryAfter("Monday, 01-Jan-80 00:00:00 GMT", in2030)).toBe(Date.UTC(2080, 0, 1) - in2030); // 50: 2080
    expect(parseRetryAfter("Wednesday, 01-Jan-31 00:00:00 GMT", in2030)).toBe(Date.UTC(2031, 0, 1) - in2030);
  });
});

describe("the backoff policy", () => {
  test("defaults, the window's growth and cap, and Retry-After as a floor", () => {
    const policy = backoffPolicy(true)!;
    expect(policy).toEqual({ initialDelay: 1000, maxDelay: 30_000, maxRetries: Infinity, random: Math.random });
    expect(backoffPolicy(false)).toBeUndefined();
    expect(backoffPolicy(undefined)).toBeUndefined();
    const half = backoffPolicy({ random: () => 0.5 })!;
    expect([1, 2, 3, 4, 5, 6, 7, 100].map((attempt) => backoffDelay(half, attempt, 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 15_000, 15_000, 15_000,
    ]);
    expect(backoffDelay(half, 1, 3000)).toBe(3500);
    expect(backoffDelay(half, 1, 3000, 10_000)).toBe(10_000);
    expect(backoffDelay(half, 1, 3000, 100)).toBe(3500);
  });
});
