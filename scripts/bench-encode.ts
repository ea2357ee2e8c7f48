/**
 * Encode throughput: eddy's encoder entry points against a hand-written baseline stream and
 * Hono's `SSEStreamingApi.writeSSE` loop, on the same seeded message arrays, in one run,
 * interleaved, each case in its own process.
 *
 *   npm run bench:encode                     # ~60 s
 *   npm run bench:encode -- --quick          # ~10 s smoke run
 *   npm run bench:encode -- --seconds 90 --json encode.json --corpus tokens
 *
 * Cases, for each corpus's message array:
 * - `encodeEvent` to a string, and to bytes with a shared `TextEncoder` (no stream at all);
 * - `EventStreamEncoder`: a one-message-per-pull stream of the messages piped through it;
 * - `toEventStream` over (a) the array and (b) an async generator yielding each message;
 * - baseline: a hand-written `ReadableStream` enqueuing `encoder.encode(encodeEvent(message))`
 *   once per `pull`, from the same array / async generator: what a user would write without us;
 * - Hono 4: the real `SSEStreamingApi` over a `TransformStream`, set up as `streamSSE` does, and a
 *   `for (…) await stream.writeSSE(message)` loop over the array / the async generator.
 *
 * Every stream is read to the end by a reader loop that sums the chunk sizes. Before timing,
 * every output is checked: byte-identical to the corpus for our encoders and the baseline;
 * Hono writes its fields in another order (event, data, id), so its output is parsed and its
 * events compared instead. A mismatch exits 1; a MISS against a target still exits 0.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { SSEStreamingApi, type SSEMessage } from "hono/streaming";
import { createParser, encodeEvent, type EventMessage, EventStreamEncoder, toEventStream } from "../core/mod.ts";
import {
  busyLine,
  type Case,
  type Corpus,
  timingLine,
  describeCorpus,
  type Digest,
  groupHeading,
  indent,
  judge,
  makeCorpora,
  measure,
  type Measured,
  parseFlags,
  planFor,
  printHeader,
  renderResults,
  type ResultRow,
  resultRow,
  runBenchmark,
  settleCoordinator,
  targetSummary,
  caseBundle,
  writeJson,
} from "./_corpora.ts";

// ---------------------------------------------------------------------------------------------
// Timed runners. Each returns { events: messages encoded, size: output size }: characters for
// the string case, bytes for every other one. A byte stream does not show where its frames end,
// so stream cases report the message count they were given and the byte total is what is checked.

function encodeToStrings(messages: readonly EventMessage[]): Digest {
  let size = 0;
  for (let i = 0; i < messages.length; i++) size += encodeEvent(messages[i]!).length;
  return { events: messages.length, size };
}

function encodeToBytes(messages: readonly EventMessage[]): Digest {
  const encoder = new TextEncoder();
  let size = 0;
  for (let i = 0; i < messages.length; i++) size += encoder.encode(encodeEvent(messages[i]!)).length;
  return { events: messages.length, size };
}

/** Reads a byte stream to the end; the same reader loop for every stream case. */
async function drain(stream: ReadableStream<Uint8Array>, events: number): Promise<Digest> {
  const reader = stream.getReader();
  let size = 0;
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    size += step.value.length;
  }
  return { events, size };
}

/** A message stream with one message per `pull`: the input of `EventStreamEncoder`. */
function messageStream(messages: readonly EventMessage[]): ReadableStream<EventMessage> {
  let next = 0;
  return new ReadableStream<EventMessage>({
    pull(controller) {
      if (next < messages.length) controller.enqueue(messages[next++]!);
      else controller.close();
    },
  });
}

async function* generate(messages: readonly EventMessage[]): AsyncGenerator<EventMessage> {
  for (let i = 0; i < messages.length; i++) yield messages[i]!;
}

/** The hand-written baseline over an array: one encoded frame per `pull`. */
function baselineFromArray(messages: readonly EventMessage[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let next = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (next < messages.length) controller.enqueue(encoder.encode(encodeEvent(messages[next++]!)));
      else controller.close();
    },
  });
}

/** The hand-written baseline over an async iterator: one awaited `next()` and one frame per `pull`. */
function baselineFromIterator(source: AsyncIterator<EventMessage>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const step = await source.next();
      if (step.done) controller.close();
      else controller.enqueue(encoder.encode(encodeEvent(step.value)));
    },
  });
}

/**
 * Hono's SSE helper without the `Context`: `streamSSE` makes exactly this `TransformStream` and
 * `SSEStreamingApi`, runs the callback, closes the stream when it returns, and responds with
 * `stream.responseReadable`.
 */
function honoStream(write: (stream: SSEStreamingApi) => Promise<void>): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream();
  const stream = new SSEStreamingApi(writable, readable);
  void (async () => {
    try {
      await write(stream);
    } finally {
      await stream.close();
    }
  })();
  return stream.responseReadable;
}

const honoFromArray = (messages: readonly EventMessage[]) =>
  honoStream(async (stream) => {
    for (let i = 0; i < messages.length; i++) await stream.writeSSE(messages[i] as SSEMessage);
  });

const honoFromIterable = (source: AsyncIterable<EventMessage>) =>
  honoStream(async (stream) => {
    for await (const message of source) await stream.writeSSE(message as SSEMessage);
  });

// ---------------------------------------------------------------------------------------------
// Cases, pairs and targets

const CASES = {
  encodeString: "encodeEvent -> string",
  encodeBytes: "encodeEvent + TextEncoder",
  encoderStream: "EventStreamEncoder",
  toStreamArray: "toEventStream(array)",
  toStreamAsync: "toEventStream(async gen)",
  baselineArray: "baseline stream(array)",
  baselineAsync: "baseline stream(async gen)",
  honoArray: "hono writeSSE(array)",
  honoAsync: "hono writeSSE(async gen)",
} as const;
type CaseKey = keyof typeof CASES;
const CASE_REFS = (Object.keys(CASES) as CaseKey[]).map((key) => ({ key, name: CASES[key] }));

/** What each case receives: the messages and the totals a pass must produce. */
type GroupInput = { messages: EventMessage[]; chars: number; bytes: number };

/** Worker side: one case over one corpus. */
function makeCase(key: CaseKey, input: GroupInput): Case<any> {
  const { messages } = input;
  const n = messages.length;
  const bytes: Digest = { events: n, size: input.bytes };
  switch (key) {
    case "encodeString":
      return { run: () => encodeToStrings(messages), expect: { events: n, size: input.chars } };
    case "encodeBytes":
      return { run: () => encodeToBytes(messages), expect: bytes };
    case "encoderStream":
      return {
        prepare: () => messageStream(messages),
        run: (s: ReadableStream<EventMessage>) => drain(s.pipeThrough(new EventStreamEncoder()), n),
        expect: bytes,
      };
    case "toStreamArray":
      return { run: () => drain(toEventStream(messages), n), expect: bytes };
    case "toStreamAsync":
      return {
        prepare: () => generate(messages),
        run: (g: AsyncGenerator<EventMessage>) => drain(toEventStream(g), n),
        expect: bytes,
      };
    case "baselineArray":
      return { run: () => drain(baselineFromArray(messages), n), expect: bytes };
    case "baselineAsync":
      return {
        prepare: () => generate(messages),
        run: (g: AsyncGenerator<EventMessage>) => drain(baselineFromIterator(g), n),
        expect: bytes,
      };
    case "honoArray":
      return { run: () => drain(honoFromArray(messages), n), expect: honoBytes(messages) };
    case "honoAsync":
      return {
        prepare: () => generate(messages),
        run: (g: AsyncGenerator<EventMessage>) => drain(honoFromIterable(g), n),
        expect: honoBytes(messages),
      };
  }
}

/** Hono's frames are the same lines in another order, so the same size, except where it omits an empty `event`. */
function honoBytes(messages: readonly EventMessage[]): Digest {
  let size = 0;
  for (const m of messages) size += Buffer.byteLength(encodeEvent(m.event === "" ? { ...m, event: undefined } : m));
  return { events: messages.length, size };
}

/** Which baseline each case is compared with, and the target speed-up (undefined: reported only). */
const PAIRS: { key: CaseKey; baseline: CaseKey; target?: number }[] = [
  { key: "toStreamArray", baseline: "baselineArray", target: 1.0 },
  { key: "toStreamAsync", baseline: "baselineAsync", target: 1.0 },
  { key: "encoderStream", baseline: "baselineArray" },
  { key: "baselineArray", baseline: "honoArray" },
  { key: "baselineAsync", baseline: "honoAsync" },
];
/** Our stream against Hono: reported in a second table, no target. */
const PEER_PAIRS: { key: CaseKey; baseline: CaseKey }[] = [
  { key: "toStreamArray", baseline: "honoArray" },
  { key: "toStreamAsync", baseline: "honoAsync" },
];

// ---------------------------------------------------------------------------------------------
// Correctness, before any timing

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const all = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    all.set(part, at);
    at += part.length;
  }
  return all;
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of stream) parts.push(chunk);
  return concat(parts);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Parses `bytes` with our parser and compares the events with the corpus's reference events. */
function sameEvents(bytes: Uint8Array, corpus: Corpus): string | undefined {
  let index = 0;
  let problem: string | undefined;
  const parser = createParser({
    onEvent(event) {
      const e = corpus.expected[index];
      if (
        problem === undefined &&
        (e === undefined || event.type !== e.type || event.data !== e.data || event.lastEventId !== e.lastEventId)
      ) {
        problem = `event #${index} differs\n  expected ${JSON.stringify(e)?.slice(0, 300)}\n  received ${JSON.stringify(event).slice(0, 300)}`;
      }
      index++;
    },
  });
  parser.feed(bytes);
  parser.end();
  if (problem !== undefined) return problem;
  return index === corpus.expected.length ? undefined : `${index} events, expected ${corpus.expected.length}`;
}

async function checkCorrectness(corpora: readonly Corpus[]): Promise<void> {
  const problems: string[] = [];
  for (const corpus of corpora) {
    const { messages } = corpus;
    const what = (key: CaseKey) => `${corpus.name} / ${CASES[key]}`;
    // Our encoders and the baseline must reproduce the corpus byte for byte.
    const text = messages.map((m) => encodeEvent(m)).join("");
    if (text !== corpus.text)
      problems.push(`${what("encodeString")}: the concatenated frames differ from the corpus text`);
    const encoder = new TextEncoder();
    const outputs: [CaseKey, Uint8Array][] = [
      ["encodeBytes", concat(messages.map((m) => encoder.encode(encodeEvent(m))))],
      ["encoderStream", await collect(messageStream(messages).pipeThrough(new EventStreamEncoder()))],
      ["toStreamArray", await collect(toEventStream(messages))],
      ["toStreamAsync", await collect(toEventStream(generate(messages)))],
      ["baselineArray", await collect(baselineFromArray(messages))],
      ["baselineAsync", await collect(baselineFromIterator(generate(messages)))],
    ];
    for (const [key, bytes] of outputs) {
      const at = firstDifference(bytes, corpus.bytes);
      if (at !== -1) {
        const near = (b: Uint8Array) =>
          JSON.stringify(new TextDecoder().decode(b.subarray(Math.max(0, at - 40), at + 40)));
        problems.push(
          `${what(key)}: output differs from the corpus at byte ${at} of ${corpus.bytes.length} (got ${bytes.length} bytes)\n  expected ${near(corpus.bytes)}\n  received ${near(bytes)}`,
        );
      }
    }
    // Hono orders the fields differently: compare what a client would see.
    for (const [key, stream] of [
      ["honoArray", honoFromArray(messages)],
      ["honoAsync", honoFromIterable(generate(messages))],
    ] as const) {
      const bytes = await collect(stream);
      const problem = sameEvents(bytes, corpus);
      if (problem !== undefined) problems.push(`${what(key)}: ${problem}`);
      if (bytes.length !== honoBytes(messages).size)
        problems.push(`${what(key)}: ${bytes.length} bytes, expected ${honoBytes(messages).size}`);
    }
  }
  if (problems.length > 0) {
    console.error(`CORRECTNESS MISMATCH: nothing was timed.\n${problems.join("\n")}`);
    process.exit(1);
  }
  console.log(
    `correctness: encodeEvent, EventStreamEncoder, toEventStream (array, async gen) and the baselines byte-identical to the corpus; ` +
      `Hono's output parses to the same events (type, data, last event ID)\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const began = performance.now();
  const options = parseFlags(process.argv.slice(2), "bench-encode.ts", { seconds: 30, quickSeconds: 3 });
  const corpora = makeCorpora(options.corpora, options.seed, options.corpusBytes);
  const env = printHeader(
    "bench-encode: eddy vs a hand-written stream and Hono 4 writeSSE",
    "bench-encode.ts",
    options,
    corpora,
    ["hono"],
  );
  console.log(
    "MB      : 10^6 bytes of UTF-8 output (the string case: of the same frames as UTF-8); events = messages\n",
  );

  const setupDone = performance.now();
  await checkCorrectness(corpora);
  const checkDone = performance.now();

  const bundle = await caseBundle(fileURLToPath(import.meta.url));
  await settleCoordinator();
  const plan = planFor(options, corpora.length);
  const rows: ResultRow[] = [];
  const peerRows: ResultRow[] = [];
  const all: Measured[] = [];
  for (const corpus of corpora) {
    const input: GroupInput = { messages: corpus.messages, chars: corpus.text.length, bytes: corpus.bytes.length };
    const measured = await measure(bundle, CASE_REFS, input, plan);
    all.push(...measured);
    const byKey = new Map(CASE_REFS.map((ref, i) => [ref.key, measured[i]!] as const));
    const row = (key: CaseKey) =>
      resultRow({ corpus: corpus.name }, byKey.get(key)!, corpus.bytes.length, corpus.messages.length);
    const groupRows = CASE_REFS.map(({ key }) => {
      const r = row(key);
      const pair = PAIRS.find((p) => p.key === key);
      if (pair !== undefined) judge(r, byKey.get(key)!, byKey.get(pair.baseline)!, pair.target);
      return r;
    });
    for (const pair of PEER_PAIRS) {
      const r = row(pair.key);
      judge(r, byKey.get(pair.key)!, byKey.get(pair.baseline)!, undefined);
      peerRows.push(r);
    }
    rows.push(...groupRows);
    console.log(groupHeading(`${corpus.name}, ${corpus.messages.length} messages`, measured));
    console.log(indent(renderResults(groupRows, [])));
    console.log("");
  }

  console.log(
    "## All results (ratio = baseline time / our time, per-round median [quartiles]; >1 = the left case is faster)\n",
  );
  console.log(renderResults(rows, ["corpus"]));
  console.log("\n## toEventStream against Hono's writeSSE loop (same source kind)\n");
  console.log(renderResults(peerRows, ["corpus"]));
  console.log("");
  console.log(targetSummary(rows));
  console.log(busyLine(all));
  console.log(timingLine(began, setupDone, checkDone));
  writeJson(options.json, {
    benchmark: "encode",
    env,
    corpora: corpora.map(describeCorpus),
    results: rows,
    peers: peerRows,
  });
}

runBenchmark(main, makeCase);
