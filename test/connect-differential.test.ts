/**
 * Differential: the same bytes, cut into the same chunks, served by a real node:http server to
 * undici's `EventSource` and to `connect` (over the platform's fetch) must give the same events
 * (type, data, lastEventId), and both clients must reconnect with the same `Last-Event-ID`. The
 * spec transcription in test/_spec-parser.ts is the third opinion: `connect` must always agree with
 * it, and undici wherever undici follows the spec (its known departures are listed below).
 *
 * Each stream is served once; the reconnect that follows gets one sentinel event, whose
 * lastEventId is the last event ID string the client carried across, and the server records the
 * header each client sent.
 */
import { once } from "node:events";
import { createServer, type ServerResponse } from "node:http";
import fc from "fast-check";
import { EventSource } from "undici";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect, encodeEvent, type ServerSentEvent } from "../core/mod.ts";
import { chunksOf, concat, cuts, eventMessages, PROPERTY_SEED, splitAt, sseBytes } from "./_arbitraries.ts";
import { specParse } from "./_spec-parser.ts";

const utf8 = new TextEncoder();
const SENTINEL = "eddy-differential-sentinel";

type Seen = {
  events: ServerSentEvent[];
  /** The lastEventId of the sentinel event: the last event ID string after the stream. */
  carried: string;
  /** The Last-Event-ID bytes of the reconnect (null: not sent). */
  header: number[] | null;
  /** connect only: the name of the error the iteration threw instead of reconnecting. */
  failed?: string;
};

/** What no HTTP field value may hold: an id with one of these cannot be sent as Last-Event-ID. */
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;

/** Each case's chunks and, per client, the Last-Event-ID bytes of each request. */
const cases = new Map<string, { chunks: readonly Uint8Array[]; heard: Map<string, (number[] | null)[]> }>();
let nextCase = 0;

const server = createServer((request, response) => {
  const [, id = "", client = ""] = (request.url ?? "").split("/");
  const served = cases.get(id);
  if (served === undefined) return void response.writeHead(404).end();
  const heard = served.heard.get(client) ?? [];
  served.heard.set(client, heard);
  const header = request.headers["last-event-id"];
  // Node reads header bytes as Latin-1: one character per byte, so the bytes come back exactly.
  heard.push(typeof header === "string" ? Array.from(Buffer.from(header, "latin1")) : null);
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store" });
  if (heard.length === 1) void serve(response, served.chunks);
  else response.write(`event: ${SENTINEL}\ndata: end\n\n`); // left open: the client closes it
});

/** Writes each chunk as its own HTTP chunk, waiting for each to be handed to the socket, then ends. */
async function serve(response: ServerResponse, chunks: readonly Uint8Array[]): Promise<void> {
  for (const chunk of chunks) {
    if (chunk.length === 0) continue; // an empty write sends nothing
    await new Promise<void>((resolve, reject) => response.write(chunk, (error) => (error ? reject(error) : resolve())));
  }
  response.end();
}

let base = "";
beforeAll(async () => {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address() as { port: number };
  base = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, "close");
});

/** Rejects after `ms` (real time) unless `promise` settles first; `cleanup` runs either way. */
async function deadline<T>(promise: Promise<T>, what: string, cleanup: () => void, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not see the sentinel within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
    cleanup();
  }
}

async function viaEventSource(url: string): Promise<Omit<Seen, "header">> {
  const source = new EventSource(url, { node: { reconnectionTime: 1 } });
  const events: ServerSentEvent[] = [];
  const seen = new Promise<Omit<Seen, "header">>((resolve) => {
    // Every message event passes through dispatchEvent, whatever its type: record them there.
    const dispatch = source.dispatchEvent.bind(source);
    source.dispatchEvent = (event: Event): boolean => {
      if (event instanceof MessageEvent || "lastEventId" in event) {
        const { type, data, lastEventId } = event as MessageEvent<string>;
        if (type === SENTINEL) resolve({ events, carried: lastEventId });
        else events.push({ type, data, lastEventId });
      }
      return dispatch(event);
    };
  });
  return deadline(seen, "EventSource", () => source.close());
}

async function viaConnect(url: string): Promise<Omit<Seen, "header">> {
  const connection = connect(url, { reconnectionTime: 1 });
  const events: ServerSentEvent[] = [];
  const seen = (async () => {
    try {
      for await (const event of connection) {
        if (event.type === SENTINEL) return { events, carried: event.lastEventId };
        events.push(event);
      }
    } catch (error) {
      return { events, carried: "", failed: error instanceof Error ? error.name : String(error) };
    }
    throw new Error("connect ended without the sentinel");
  })();
  return deadline(seen, "connect", () => connection.close());
}

/** Serves `chunks` to connect and (unless told not to) to EventSource at once; what each saw. */
async function both(chunks: readonly Uint8Array[], withUndici = true): Promise<{ undici?: Seen; eddy: Seen }> {
  const id = String(nextCase++);
  const heard = new Map<string, (number[] | null)[]>();
  cases.set(id, { chunks, heard });
  const header = (client: string) => heard.get(client)?.[1] ?? null;
  try {
    const [undici, eddy] = await Promise.all([
      withUndici ? viaEventSource(`${base}/${id}/undici`) : undefined,
      viaConnect(`${base}/${id}/eddy`),
    ]);
    const seen = { eddy: { ...eddy, header: header("eddy") } };
    return undici === undefined ? seen : { ...seen, undici: { ...undici, header: header("undici") } };
  } finally {
    cases.delete(id);
  }
}

/**
 * What the spec says a client sees for `bytes`: the events, the last event ID string, and the
 * bytes of the Last-Event-ID it reconnects with: the string's UTF-8, without the leading and
 * trailing spaces and tabs that HTTP drops from any field value.
 */
function expected(bytes: Uint8Array): Seen {
  const { events, lastEventId } = specParse(bytes);
  // No header can carry it: connect fails the connection (a TypeError) rather than reconnect in vain.
  if (CONTROL.test(lastEventId)) return { events, carried: "", header: null, failed: "TypeError" };
  const header = Array.from(utf8.encode(lastEventId.replace(/^[ \t]+|[ \t]+$/g, "")));
  return { events, carried: lastEventId, header: lastEventId === "" ? null : header };
}

/**
 * Where undici's EventSource (7.x) departs from the spec, read from its source
 * (lib/web/eventsource/): `"event"`, an `event` field with an empty value is ignored instead of
 * resetting the type to `message`; `"latin-1"`, the Last-Event-ID value is written one byte per
 * character, not as UTF-8, so a non-ASCII id goes out as other bytes, and one beyond U+00FF makes
 * every reconnect fail, as an id with a control character does on any client (undici is then not
 * asked at all: it would retry forever). (undici also applies `retry` at
 * dispatch rather than when the field is read: that changes when it reconnects, not what it
 * delivers.)
 */
function undiciDepartures(bytes: Uint8Array): { event: boolean; latin1: boolean; unusable: boolean } {
  const lines = new TextDecoder().decode(bytes).split(/\r\n|\r|\n/);
  const { lastEventId } = specParse(bytes);
  return {
    event: lines.some((line) => /^event:? ?$/.test(line)),
    latin1: /[^\0-\x7f]/.test(lastEventId),
    unusable: /[^\0-\xff]/.test(lastEventId) || CONTROL.test(lastEventId),
  };
}

/** Checks what connect (always against the spec) and EventSource (where it follows the spec) saw. */
function check(bytes: Uint8Array, seen: { undici?: Seen; eddy: Seen }, label: string): void {
  const spec = expected(bytes);
  expect(seen.eddy, `connect, ${label}`).toEqual(spec);
  const departs = undiciDepartures(bytes);
  if (seen.undici === undefined || departs.event) return;
  const latin1 = spec.header === null ? null : Array.from(spec.carried.trim(), (c) => c.charCodeAt(0));
  expect(seen.undici, `EventSource, ${label}`).toEqual({ ...spec, header: departs.latin1 ? latin1 : spec.header });
}

/** Runs `jobs` with at most `width` at once. */
async function pool<T>(jobs: readonly (() => Promise<T>)[], width = 8): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]!();
      }
    }),
  );
  return results;
}

const bytesOf = (...parts: (string | number[])[]): Uint8Array =>
  concat(parts.map((part) => (typeof part === "string" ? utf8.encode(part) : Uint8Array.from(part))));

/** Tricky streams, each written out with the events the spec gives for it. */
const FIXTURES: [name: string, bytes: Uint8Array][] = [
  ["CR, LF and CRLF line ends", bytesOf("data: a\rdata: b\r\rid: 1\r\ndata: c\r\n\r\ndata: d\n\n\r\ndata: e\n\r\n")],
  [
    "a BOM at the start is dropped, a second one is content",
    bytesOf("\ufeffdata: one\n\n\ufeffdata: two\n\ndata: \ufeff\n\n"),
  ],
  [
    "multi-line data and the space rules",
    bytesOf("data: one\ndata:two\ndata:  three\ndata\ndata:\n\n: comment\ndata\n\n"),
  ],
  [
    "an id with NUL is ignored, an empty id clears",
    bytesOf("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\nid\ndata: c\n\nid: 3\n\n"),
  ],
  [
    "retry values that are not all digits",
    bytesOf("retry: 1e3\nretry: -5\nretry: 12a\nretry:\nretry: 20\nretry: 5\ndata: r\n\n"),
  ],
  [
    "UTF-8 across chunks, and invalid bytes",
    bytesOf("data: é€😀\n\nid: ü\nevent: ß\ndata: x\n\ndata: ", [0xff, 0xe2, 0x82], "!\n\n"),
  ],
  [
    "event types, empty data, and an unterminated last event",
    bytesOf(
      "event: custom\ndata\n\nevent: open\ndata: as an EventSource event name\n\nevent: error\ndata: x\n\ndata: dropped",
    ),
  ],
  ["an id with a control character: connect fails at the reconnect", bytesOf("id: a\u0001b\ndata: x\n\n")],
  [
    "unknown fields, field names with colons and case",
    bytesOf("Data: no\ndata:yes\nfoo: bar\nid:4\nDATA: no\ndata:: colon\n\nretry\ndata: last\n\n"),
  ],
];

describe("connect and undici's EventSource see the same events", () => {
  for (const [name, bytes] of FIXTURES) {
    test(`${name}: whole, in 1-byte chunks and split at every position`, async () => {
      const chunkings: [string, Uint8Array[]][] = [
        ["whole", [bytes]],
        ["1-byte chunks", chunksOf(bytes, 1)],
      ];
      for (let at = 1; at < bytes.length; at++)
        chunkings.push([`split at ${at}`, [bytes.slice(0, at), bytes.slice(at)]]);
      const withUndici = !undiciDepartures(bytes).unusable;
      const results = await pool(
        chunkings.map(
          ([, chunks]) =>
            () =>
              both(chunks, withUndici),
        ),
      );
      for (const [i, seen] of results.entries()) check(bytes, seen, `${name}, ${chunkings[i]![0]}`);
    });
  }

  test("undici's departures: an empty event field keeps the type; Last-Event-ID goes out as Latin-1", async () => {
    const bytes = bytesOf("event: a\nevent\ndata: x\n\nevent: b\nevent:\ndata: y\n\nid: ü\n\n");
    expect(undiciDepartures(bytes)).toEqual({ event: true, latin1: true, unusable: false });
    const { undici, eddy } = await both([bytes]);
    expect(eddy).toEqual(expected(bytes));
    expect(eddy.events.map((e) => e.type)).toEqual(["message", "message"]);
    expect(eddy.header).toEqual([0xc3, 0xbc]); // UTF-8, as the spec says
    expect(undici?.events.map((e) => e.type)).toEqual(["a", "b"]);
    expect(undici?.header).toEqual([0xfc]);
  });

  test("random SSE-looking bytes cut at random points (fast-check)", async () => {
    // Streams whose retry fields would make the clients wait long before reconnecting are left out.
    const quick = sseBytes.filter((bytes) => specParse(bytes).retries.every((ms) => ms <= 100));
    await fc.assert(
      fc.asyncProperty(quick, cuts, async (bytes, points) => {
        const seen = await both(splitAt(bytes, points), !undiciDepartures(bytes).unusable);
        check(bytes, seen, "random");
      }),
      { seed: PROPERTY_SEED, numRuns: 150, plugins: [fc.interruptAfterTimeLimit(15_000)] },
    );
  });

  test("encoded messages full of awkward text, cut at random points (fast-check)", async () => {
    const messages = eventMessages.map((list) => list.map(({ retry, ...message }) => message)); // no long waits
    await fc.assert(
      fc.asyncProperty(messages, cuts, async (list, points) => {
        const bytes = utf8.encode(list.map(encodeEvent).join(""));
        const seen = await both(splitAt(bytes, points), !undiciDepartures(bytes).unusable);
        check(bytes, seen, "encoded");
      }),
      { seed: PROPERTY_SEED, numRuns: 150, plugins: [fc.interruptAfterTimeLimit(15_000)] },
    );
  });
});
