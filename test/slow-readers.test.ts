/**
 * Slow readers at scale, on the Node server (its mount writes event streams straight to the
 * socket): 1 000 clients that read and 50 that never read share one room. The slow ones must be
 * cut — their connections closed and counted — while the fast ones get every message promptly,
 * the server's memory stays bounded, and the slow ones resume by Last-Event-ID without loss.
 *
 * Why the volume: a client that never reads still lets the kernel absorb a few MB (loopback's
 * autotuned socket buffers) before the server's writes block, so each slow reader must be sent
 * more than that before any bound applies; the fast readers get the same bytes.
 */
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, expect, test } from "vitest";
import { RUNTIMES, type RunningServer, startServer, waitFor, within } from "./_server.ts";

const FAST = 1000;
const SLOW = 50;
const QUEUE_BYTES = 256 * 1024;
const ROOM = "crowd";
const TEXT = "😀".repeat(4000); // the longest text: 16 000 bytes of UTF-8

let server: RunningServer;
const sockets: Socket[] = [];

beforeAll(async () => {
  const node = RUNTIMES.find((runtime) => runtime.name === "node")!;
  // One test process plays 1 050 clients: no per-client limits.
  server = await startServer(node, [
    "--bot",
    "off",
    "--history",
    "2000",
    "--queue-bytes",
    String(QUEUE_BYTES),
    "--rate-limit",
    "off",
  ]);
}, 30_000);

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await server?.stop();
});

/** A raw-socket subscriber: counts the message frames (`id:` lines) it reads and notes the last id. */
function subscribe(
  url: URL,
  read: boolean,
  headers = "",
): Promise<{ socket: Socket; ids: () => number; last: () => string; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    let count = 0;
    let last = "";
    let tail = "";
    let closed = false;
    const socket = connect({ host: url.hostname, port: Number(url.port) }, () => {
      socket.write(
        `GET /rooms/${ROOM}/events?history=0 HTTP/1.1\r\nHost: ${url.host}\r\nAccept: text/event-stream\r\n${headers}\r\n`,
      );
      if (!read) socket.pause(); // never reads: the kernel buffers fill, then the server's
      resolve({ socket, ids: () => count, last: () => last, closed: () => closed });
    });
    sockets.push(socket);
    socket.setEncoding("latin1"); // ids are ASCII; the emoji bytes just pass through
    socket.on("data", (chunk: string) => {
      const text = tail + chunk;
      let counted = 0; // where the last counted id line ends: never scan it again
      for (let at = text.indexOf("\nid: "); at !== -1; at = text.indexOf("\nid: ", at + 5)) {
        const end = text.indexOf("\n", at + 5);
        if (end === -1) break;
        count++;
        last = text.slice(at + 5, end);
        counted = end;
      }
      // Keep enough of the end for an id line split across reads, but nothing already counted.
      tail = text.slice(Math.max(counted, text.length - 64));
    });
    socket.on("close", () => (closed = true));
    socket.on("error", () => {});
    socket.once("error", reject);
  });
}

async function subscribers(): Promise<number> {
  const body = (await (await fetch(`${server.url}/rooms?limit=10`)).json()) as {
    rooms: { room: string; subscribers: number }[];
  };
  return body.rooms.find((room) => room.room === ROOM)?.subscribers ?? 0;
}

async function post(text: string): Promise<string> {
  const response = await fetch(`${server.url}/rooms/${ROOM}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "flood", text }),
  });
  if (response.status !== 201) throw new Error(`POST answered ${response.status}`);
  return ((await response.json()) as { id: string }).id;
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN);
}

function metric(text: string, name: string): number {
  return Number(
    text
      .split("\n")
      .find((line) => line.startsWith(`${name} `))
      ?.slice(name.length + 1),
  );
}

test(`${SLOW} readers that never read are cut; ${FAST} fast readers keep up; memory stays bounded; the slow ones resume without loss`, async () => {
  const url = new URL(server.url);
  const fast: Awaited<ReturnType<typeof subscribe>>[] = [];
  for (let i = 0; i < FAST; i += 100)
    fast.push(...(await Promise.all(Array.from({ length: 100 }, () => subscribe(url, true)))));
  const slow = await Promise.all(Array.from({ length: SLOW }, () => subscribe(url, false)));
  await waitFor(async () => (await subscribers()) === FAST + SLOW, {
    timeoutMs: 20_000,
    what: "everyone to subscribe",
  });
  const cursor = await post("start"); // where the slow readers will resume from
  await waitFor(() => fast.every((reader) => reader.ids() >= 1), {
    timeoutMs: 10_000,
    what: "the fast readers to get the start",
  });
  const rssBefore = rssKiB(server.pid);

  // Flood until the slow readers are cut (each must be sent more than the kernel absorbs).
  const ids: string[] = [cursor];
  while ((await subscribers()) > FAST) {
    if (ids.length > 1500) throw new Error(`the slow readers were never cut (${await subscribers()} subscribers)`);
    ids.push(...(await Promise.all(Array.from({ length: 10 }, () => post(TEXT)))));
  }
  const peakGrowthKiB = rssKiB(server.pid) - rssBefore;

  // Every fast reader got every message, and a message sent now still reaches all of them at once.
  await waitFor(() => fast.every((reader) => reader.ids() === ids.length), {
    timeoutMs: 30_000,
    what: `the fast readers to get all ${ids.length} messages`,
  });
  const probe = await post("probe");
  await within(
    5000,
    waitFor(() => fast.every((reader) => reader.last() === probe), { timeoutMs: 5000, what: "the probe" }),
    "the probe to reach every fast reader",
  );
  expect(fast.every((reader) => !reader.closed())).toBe(true);

  // The slow ones were cut, not merely dropped from the room: counted, and their sockets closed.
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  expect(metric(metrics, 'eddy_slow_reader_disconnects_total{reason="overflow"}')).toBe(SLOW);
  for (const reader of slow) reader.socket.resume(); // now read: each sees its data, then the close
  await waitFor(() => slow.every((reader) => reader.closed()), {
    timeoutMs: 20_000,
    what: "the slow sockets to close",
  });
  // Bounded: no slow reader pins more than its queue bound (plus what one write adds past it).
  expect(peakGrowthKiB).toBeLessThan((SLOW * (QUEUE_BYTES + 64 * 1024)) / 1024 + 64 * 1024);

  // They resume from their cursor and get exactly what they missed.
  const resumed = await Promise.all(slow.slice(0, 10).map(() => subscribe(url, true, `Last-Event-ID: ${cursor}\r\n`)));
  await waitFor(() => resumed.every((reader) => reader.ids() === ids.length), {
    timeoutMs: 30_000,
    what: `the resumed readers to get the ${ids.length} messages after their cursor`,
  });
  expect(resumed.every((reader) => reader.last() === probe)).toBe(true);
}, 180_000);
