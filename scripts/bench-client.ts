/**
 * Client throughput (`npm run bench:client`): events per second a client receives from a local
 * server, reconnect bookkeeping included. The server (a child process, so it does not share the
 * client's thread) answers each request with the next `--batch` events after its
 * `Last-Event-ID`, then ends the body after `retry: 0`, so every client reconnects with its
 * cursor many times per run. Clients, each in a fresh worker process, one after another and
 * interleaved over `--replicas` rounds:
 *
 * - `connect()` (eddy core): the async iterator, with its reconnects;
 * - `parseEventStream` + a hand-written fetch loop setting `Last-Event-ID`: the floor of eddy's
 *   own parser with no client logic;
 * - undici's `EventSource` (what Node exposes as a global).
 *
 * Each client must receive exactly `--events` events with ids 1..N in order, or the run exits 1.
 * Ratios are against undici's `EventSource` in the same round; the median of the rounds is shown.
 *
 *   npx tsx scripts/bench-client.ts [--events 200000] [--batch 5000] [--replicas 3] [--corpus tokens,korean]
 *
 * `tokens` and `korean` are this script's own one-line frames; the other corpus names take the
 * data of the seeded corpora in scripts/_corpora.ts (as bench-parse has them), cycled, each event
 * renumbered `id: 1..N` and sent as a `message` (their `event` names dropped, so that undici's
 * `onmessage` sees every one).
 *
 * @module
 */
import { fork } from "node:child_process";
import { createServer } from "node:http";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { EventSource } from "undici";
import { connect, encodeEvent, parseEventStream } from "../core/mod.ts";
import { CORPUS_NAMES, type CorpusName as SharedCorpus, makeCorpora } from "./_corpora.ts";

const CORPORA = {
  /** LLM-style token deltas: short JSON. */
  tokens: (i: number) => JSON.stringify({ choices: [{ delta: { content: ` tok${i % 97}` } }] }),
  /** Chat messages as this server sends them, mostly Hangul. */
  korean: (i: number) =>
    JSON.stringify({
      id: `mx4s.1-${i}`,
      room: "lobby",
      user: "민수",
      userId: "41C_z2Tt74GZhPi_cydkyw",
      text: `회의는 세 시에 시작합니다. 자료는 공유 폴더에 올려 두었어요 (${i})`,
      time: "2026-12-01T14:16:40.839Z",
    }),
} as const;
type CorpusName = keyof typeof CORPORA | Exclude<SharedCorpus, keyof typeof CORPORA>;
const NAMES: readonly CorpusName[] = [
  ...(Object.keys(CORPORA) as (keyof typeof CORPORA)[]),
  ...CORPUS_NAMES.filter((name) => !(name in CORPORA)),
];

/** The data of event `i` (from 1) of `corpus`. */
function frameOf(corpus: CorpusName): (i: number) => string {
  if (corpus in CORPORA) return CORPORA[corpus as keyof typeof CORPORA];
  const [built] = makeCorpora([corpus as SharedCorpus]);
  const data = built!.messages.flatMap((message) => (message.data === undefined ? [] : [message.data]));
  return (i) => data[(i - 1) % data.length]!;
}

const HELP = `Usage: npm run bench:client -- [options]

Events/s a client receives from a local server child that ends its body every --batch events
(the client reconnects with Last-Event-ID): connect(), parseEventStream + a fetch loop, undici's
EventSource, each in its own process, interleaved over --replicas rounds; median events/s and
the median ratio to undici's EventSource in the same round.

Options:
  --events N      events per client run (default 200000)
  --batch N       events per response before the body ends (default 5000)
  --replicas N    rounds (default 3)
  --corpus A,B    corpora (default tokens,korean); known: ${NAMES.join(", ")}
                  (tokens and korean are this script's own frames; the others take the data of
                  scripts/_corpora.ts's seeded corpora, renumbered, sent as "message" events)
  -h, --help      this text
`;

const CLIENTS = ["connect", "parseEventStream", "undici EventSource"] as const;
type ClientName = (typeof CLIENTS)[number];

const script = fileURLToPath(import.meta.url);
const { values } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    batch: { type: "string", default: "5000" },
    replicas: { type: "string", default: "3" },
    corpus: { type: "string", default: Object.keys(CORPORA).join(",") },
    help: { type: "boolean", short: "h", default: false },
    role: { type: "string" },
    client: { type: "string" },
    url: { type: "string" },
  },
});
const EVENTS = Number(values.events);
const BATCH = Number(values.batch);

if (values.help) console.log(HELP);
else if (values.role === "server") await runServer(values.corpus as CorpusName);
else if (values.role === "client") await runClient(values.client as ClientName, values.url!);
else await main();

/** The server child: events after Last-Event-ID, `BATCH` per response, then the body ends. */
async function runServer(corpus: CorpusName): Promise<void> {
  const frame = frameOf(corpus);
  const encoder = new TextEncoder();
  const server = createServer((request, response) => {
    const after = Number(request.headers["last-event-id"] ?? "0");
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    const last = Math.min(EVENTS, after + BATCH);
    let text = after === 0 ? "retry: 0\n\n" : "";
    for (let i = after + 1; i <= last; i++) {
      text += encodeEvent({ id: String(i), data: frame(i) });
      if (text.length > 16_384) {
        response.write(encoder.encode(text));
        text = "";
      }
    }
    // After the last event the stream has nothing more: 204 on the next request stops the clients.
    if (after >= EVENTS) {
      response.statusCode = 204;
      response.end();
      return;
    }
    response.end(encoder.encode(text));
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address();
    if (address !== null && typeof address === "object") process.send?.({ port: address.port });
  });
}

/** One client in its own process: receive every event, check the ids, report the time. */
async function runClient(client: ClientName, url: string): Promise<void> {
  let count = 0;
  let bytes = 0;
  const check = (id: string, data: string) => {
    count++;
    bytes += data.length;
    if (id !== String(count)) throw new Error(`${client}: event ${count} had id ${id}`);
  };
  const start = performance.now();
  if (client === "connect") {
    for await (const event of connect(url, { reconnectionTime: 0 })) {
      check(event.lastEventId, event.data);
      if (count === EVENTS) break;
    }
  } else if (client === "parseEventStream") {
    let lastEventId = "";
    while (count < EVENTS) {
      const response = await fetch(url, { headers: lastEventId === "" ? {} : { "last-event-id": lastEventId } });
      for await (const event of parseEventStream(response.body!)) {
        check(event.lastEventId, event.data);
        lastEventId = event.lastEventId;
      }
    }
  } else {
    // undici unrefs its reconnect timer: keep this process alive through the waits, as an app would.
    const alive = setInterval(() => {}, 1000);
    await new Promise<void>((resolve, reject) => {
      const source = new EventSource(url);
      source.onmessage = (event) => {
        try {
          check(event.lastEventId, event.data);
        } catch (error) {
          source.close();
          reject(error);
          return;
        }
        if (count === EVENTS) {
          source.close();
          resolve();
        }
      };
    }).finally(() => clearInterval(alive));
  }
  const seconds = (performance.now() - start) / 1000;
  process.send?.({ client, events: count, seconds, bytes });
  process.exit(0);
}

type Report = { client: ClientName; events: number; seconds: number };

function child<T>(args: string[]): Promise<{ message: T; kill(): void }> {
  return new Promise((resolve, reject) => {
    const proc = fork(script, args, { execArgv: ["--import", "tsx"], stdio: ["ignore", "inherit", "inherit", "ipc"] });
    proc.once("message", (message) => resolve({ message: message as T, kill: () => proc.kill() }));
    proc.once("exit", (code) => {
      if (code !== 0 && code !== null) reject(new Error(`${args.join(" ")} exited ${code}`));
    });
  });
}

async function main(): Promise<void> {
  const replicas = Number(values.replicas);
  console.log(
    `client throughput: ${EVENTS} events per client, ${BATCH} per response (then a reconnect with Last-Event-ID), ` +
      `${replicas} rounds, Node ${process.version}; events/s, median of the rounds; ratio to undici's EventSource in the same round\n`,
  );
  const corpora = values.corpus.split(",") as CorpusName[];
  for (const corpus of corpora) {
    if (!NAMES.includes(corpus)) throw new Error(`unknown corpus ${corpus} (known: ${NAMES.join(", ")})`);
  }
  for (const corpus of corpora) {
    const server = await child<{ port: number }>([
      "--role",
      "server",
      "--corpus",
      corpus,
      "--events",
      String(EVENTS),
      "--batch",
      String(BATCH),
    ]);
    const url = `http://127.0.0.1:${server.message.port}/events`;
    const rates = new Map<ClientName, number[]>(CLIENTS.map((name) => [name, []]));
    const ratios = new Map<ClientName, number[]>(CLIENTS.map((name) => [name, []]));
    try {
      for (let round = 0; round < replicas; round++) {
        const order = round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
        const inRound = new Map<ClientName, number>();
        for (const name of order) {
          const run = await child<Report>([
            "--role",
            "client",
            "--client",
            name,
            "--url",
            url,
            "--events",
            String(EVENTS),
          ]);
          if (run.message.events !== EVENTS) throw new Error(`${name} received ${run.message.events} of ${EVENTS}`);
          inRound.set(name, run.message.events / run.message.seconds);
        }
        for (const name of CLIENTS) {
          rates.get(name)!.push(inRound.get(name)!);
          ratios.get(name)!.push(inRound.get(name)! / inRound.get("undici EventSource")!);
        }
      }
    } finally {
      server.kill();
    }
    const frame = frameOf(corpus);
    let chars = 0;
    for (let i = 1; i <= 1000; i++) chars += frame(i).length;
    console.log(`corpus ${corpus} (${Math.round(chars / 1000)} chars of data per event, mean of the first 1000)`);
    console.log("| client | events/s | × undici EventSource |");
    console.log("|---|---|---|");
    for (const name of CLIENTS) {
      const rate = median(rates.get(name)!);
      const ratio = median(ratios.get(name)!);
      console.log(`| ${name} | ${Math.round(rate).toLocaleString("en-US")} | ${ratio.toFixed(2)}× |`);
    }
    console.log("");
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
