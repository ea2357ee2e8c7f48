/**
 * Helpers for the chat tests: requests against `app.fetch`, event-stream watchers parsed with our
 * own `parseEventStream`, and waiting for a condition with a deadline (never a sleep).
 *
 * @module
 */
import { parseEventStream, type ServerSentEvent } from "../core/mod.ts";
import type { ChatApp, ChatMessage, Hub, Responder, ResponderRequest, Subscription } from "../core/chat/mod.ts";
import type { EventMessage } from "../core/mod.ts";

export const BASE = "http://chat.test";

/** POSTs a message body (any JSON value) to a room. */
export function post(
  app: ChatApp,
  room: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return app.fetch(
    new Request(`${BASE}/rooms/${room}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  );
}

/** POSTs a valid message and returns its id (fails the test on any other status). */
export async function send(app: ChatApp, room: string, text: string, user = "alice"): Promise<string> {
  const response = await post(app, room, { user, text });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/** A GET (or other body-less request) against the app. */
export function get(app: ChatApp, path: string, init: RequestInit = {}): Promise<Response> {
  return app.fetch(new Request(`${BASE}${path}`, init));
}

/** The subscriber count `GET /rooms` reports for a room (0 when absent). */
export async function subscribersOf(app: ChatApp, room: string): Promise<number> {
  const body = (await (await get(app, "/rooms?limit=1000")).json()) as {
    rooms: { room: string; subscribers: number }[];
  };
  return body.rooms.find((entry) => entry.room === room)?.subscribers ?? 0;
}

/**
 * Resolves once `condition()` holds, re-checking whenever `poke` is called (and on every
 * microtask-free turn of the event loop); rejects after `timeoutMs` with `what` in the message.
 */
export function until(
  condition: () => boolean,
  what: string,
  subscribe: (poke: () => void) => () => void,
  timeoutMs = 5000,
): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    const unsubscribe = subscribe(() => {
      if (!condition()) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

/** An open event stream being read in the background into `events`. */
export type Watcher = {
  readonly response: Response;
  readonly events: ServerSentEvent[];
  readonly retries: number[];
  /** Set once the stream ended (or failed). */
  readonly ended: { value: boolean };
  /** Waits until `condition(events)` holds (deadline 5 s). */
  waitFor(condition: (events: ServerSentEvent[]) => boolean, what?: string): Promise<void>;
  /** Waits until the stream has ended. */
  waitForEnd(): Promise<void>;
  /** Cancels the body (the client going away). */
  cancel(): Promise<void>;
};

/** Opens `path` as an event stream and reads it in the background. */
export async function watch(app: ChatApp, path: string, init: RequestInit = {}): Promise<Watcher> {
  const response = await get(app, path, init);
  if (response.status !== 200 || response.body === null)
    throw new Error(`GET ${path} answered ${response.status}: ${await response.text()}`);
  const events: ServerSentEvent[] = [];
  const retries: number[] = [];
  const ended = { value: false };
  const pokes = new Set<() => void>();
  const poke = () => {
    for (const listener of [...pokes]) listener();
  };
  const body = response.body;
  const iterator = parseEventStream(body, { onRetry: (ms) => retries.push(ms) });
  void (async () => {
    try {
      for await (const event of iterator) {
        events.push(event);
        poke();
      }
    } catch {
      // A cancelled or failed stream just ends.
    } finally {
      ended.value = true;
      poke();
    }
  })();
  const subscribe = (listener: () => void) => {
    pokes.add(listener);
    return () => void pokes.delete(listener);
  };
  return {
    response,
    events,
    retries,
    ended,
    waitFor: (condition, what = "events") =>
      until(() => condition(events), `${what} (saw ${JSON.stringify(events.map((e) => e.type))})`, subscribe),
    waitForEnd: () => until(() => ended.value, "the stream to end", subscribe),
    cancel: async () => {
      await iterator.return?.();
    },
  };
}

/** The `message` events of a stream, parsed. */
export function messagesOf(events: readonly ServerSentEvent[]): ChatMessage[] {
  return events.filter((event) => event.type === "message").map((event) => JSON.parse(event.data) as ChatMessage);
}

/** The parsed data of every event of one type. */
export function dataOf<T = Record<string, unknown>>(events: readonly ServerSentEvent[], type: string): T[] {
  return events.filter((event) => event.type === type).map((event) => JSON.parse(event.data) as T);
}

/** Reads a hub subscription in the background into `items`. */
export function drain(subscription: Subscription): {
  items: EventMessage[];
  done: { value: boolean };
  waitFor(condition: (items: EventMessage[]) => boolean, what?: string): Promise<void>;
} {
  const items: EventMessage[] = [];
  const done = { value: false };
  const pokes = new Set<() => void>();
  void (async () => {
    for await (const item of subscription) {
      items.push(item);
      for (const listener of [...pokes]) listener();
    }
    done.value = true;
    for (const listener of [...pokes]) listener();
  })();
  return {
    items,
    done,
    waitFor: (condition, what = "items") =>
      until(
        () => condition(items),
        what,
        (listener) => {
          pokes.add(listener);
          return () => void pokes.delete(listener);
        },
      ),
  };
}

/**
 * A responder the test drives: each call is recorded with its request; `push` hands the reply a
 * chunk, `end` finishes it, `fail` makes it throw. It ignores `signal` on purpose, like a hung
 * upstream would.
 */
export function scriptedResponder(): {
  responder: Responder;
  requests: ResponderRequest[];
  push(chunk: string): void;
  end(): void;
  fail(error: Error): void;
  /** Resolves when the responder has been called `n` times in total. */
  called(n: number): Promise<void>;
} {
  type Step = { chunk: string } | { end: true } | { error: Error };
  const steps: Step[] = [];
  const waiters: Array<() => void> = [];
  const requests: ResponderRequest[] = [];
  const calls = new Set<() => void>();
  const wake = () => {
    for (const waiter of waiters.splice(0)) waiter();
  };
  const responder: Responder = (request) => {
    requests.push(request);
    for (const listener of [...calls]) listener();
    return {
      [Symbol.asyncIterator]: () => ({
        async next(): Promise<IteratorResult<string>> {
          while (steps.length === 0) await new Promise<void>((resolve) => waiters.push(resolve));
          const step = steps.shift()!;
          if ("error" in step) throw step.error;
          if ("end" in step) return { done: true, value: undefined };
          return { done: false, value: step.chunk };
        },
      }),
    };
  };
  return {
    responder,
    requests,
    push: (chunk) => {
      steps.push({ chunk });
      wake();
    },
    end: () => {
      steps.push({ end: true });
      wake();
    },
    fail: (error) => {
      steps.push({ error });
      wake();
    },
    called: (n) =>
      until(
        () => requests.length >= n,
        `${n} responder calls`,
        (listener) => {
          calls.add(listener);
          return () => void calls.delete(listener);
        },
      ),
  };
}

/** The chat messages among subscription items, parsed. */
export function messagesIn(items: readonly EventMessage[]): ChatMessage[] {
  return items.filter((item) => item.event === undefined).map((item) => JSON.parse(item.data!) as ChatMessage);
}

/** Publishes `count` messages "m<from>".."m<from+count-1>" as alice and returns them. */
export async function publishMany(hub: Hub, room: string, count: number, from = 1): Promise<ChatMessage[]> {
  const published: ChatMessage[] = [];
  for (let i = from; i < from + count; i++) {
    published.push(await hub.publish(room, { user: "alice", text: `m${i}`, time: "2025-01-01T00:00:00.000Z" }));
  }
  return published;
}

/** Publishes a sentinel and waits for it, so everything before it has surely been delivered. */
export async function flushHub(hub: Hub, room: string, reader: ReturnType<typeof drain>): Promise<ChatMessage> {
  const sentinel = await hub.publish(room, { user: "alice", text: "sentinel", time: "2025-01-01T00:00:00.000Z" });
  await reader.waitFor((items) => messagesIn(items).some((m) => m.id === sentinel.id), "the sentinel");
  return sentinel;
}
