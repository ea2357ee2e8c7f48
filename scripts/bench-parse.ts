/**
 * Parse throughput: eddy's parsers against eventsource-parser 3.x ("esp" in the tables), on the
 * same seeded corpora and the same chunk splits, in one run, interleaved, each case in its own
 * process (see `_corpora.ts`). Runs on Node (via tsx), Bun and Deno alike:
 *
 *   npm run bench:parse                      # ~5 min: 7 corpora x 2 chunkings x 15 cases
 *   npm run bench:parse -- --quick           # ~1 min smoke run
 *   npm run bench:parse -- --corpus korean,json-intl --replicas 3 --seconds 60 --json parse.json
 *   node_modules/.bin/bun scripts/bench-parse.ts
 *   node_modules/.bin/deno run -A scripts/bench-parse.ts
 *
 * Corpora: tokens, json (ASCII), multiline (30% of its bytes non-ASCII), tokens-intl, json-intl,
 * multiline-intl (3-4%: accents, CJK, Hangul, emoji, flags, ZWJ sequences spread through them)
 * and korean (chat messages as the chat server frames them, their text mostly Hangul).
 *
 * Pairs (ours / baseline; a ratio >1 means ours is faster):
 * - `createParser().feed(bytes)` / esp `feed(decoder.decode(chunk, { stream: true }))`: every
 *   real user of a string parser must decode, so the decode is inside its timed loop.
 * - `createParser().feed(string)` / esp `feed(string)`, both fed the same pre-decoded strings.
 * - `EventStreamParser` and `parseEventStream` / `TextDecoderStream` + `EventSourceParserStream`,
 *   all reading the same one-chunk-per-pull byte stream.
 *
 * Floor rows (no target; their ratio against the same baseline is the ceiling of the rows above
 * them): the least any parser must do, which is to decode every byte (a one-shot `TextDecoder` on
 * the chunks cut back to whole characters, or a streaming one on the chunks) and find every line
 * feed (`indexOf`); the same plus one `slice` per line and a new
 * object per event (what any parser that hands out events must add, with no field parsing); for
 * the stream wrappers, the same behind a body reader, a `TransformStream` that enqueues one
 * object per event the chunk completes, and the event loop above behind a pipe, each event
 * enqueued straight onto a readable and read one by one (as `EventStreamParser` does).
 *
 * Control rows: eventsource-parser's `decode+feed` and its stream measured a second time, each in
 * processes of their own, against the first. Their ratio would be 1.00 on a quiet, deterministic
 * machine; how far it strays is how far any ratio of the same group can stray by chance.
 *
 * Before any timing, every parser's events are compared with the corpus's reference events
 * (type, data, and the last event ID, or for esp the block's own `id`); a mismatch exits 1. Every
 * timed pass is checked again (event count and total data length), which also keeps the engine
 * from dropping the work. Targets are reported as PASS/MISS, never asserted: a MISS exits 0.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { createParser as createEspParser, type EventSourceMessage } from "eventsource-parser";
import { EventSourceParserStream } from "eventsource-parser/stream";
import { createParser, EventStreamParser, parseEventStream, type ServerSentEvent } from "../core/mod.ts";
import {
  busyLine,
  CORPUS_NAMES,
  type Case,
  type Chunking,
  chunkings,
  type Corpus,
  timingLine,
  describeCorpus,
  type Digest,
  type ExpectedEvent,
  groupHeading,
  indent,
  judge,
  makeCorpora,
  measure,
  decodeChunks,
  type Measured,
  parseFlags,
  planFor,
  printHeader,
  renderResults,
  type ResultRow,
  resultRow,
  runBenchmark,
  settleCoordinator,
  sliceChunks,
  targetSummary,
  caseBundle,
  writeJson,
} from "./_corpora.ts";

/** Hoisted, so the esp decode loop allocates no options object per chunk. */
const STREAM = { stream: true } as const;

// ---------------------------------------------------------------------------------------------
// Timed runners. Each is its own function with its own `onEvent` literal, so every parser's call
// site and sink stay monomorphic; each returns a digest of what it consumed (events, data chars).

function eddyFeedBytes(chunks: readonly Uint8Array[]): Digest {
  let events = 0;
  let size = 0;
  const parser = createParser({
    onEvent(event) {
      events++;
      size += event.data.length;
    },
  });
  for (let i = 0; i < chunks.length; i++) parser.feed(chunks[i]!);
  parser.end();
  return { events, size };
}

function eddyFeedString(chunks: readonly string[]): Digest {
  let events = 0;
  let size = 0;
  const parser = createParser({
    onEvent(event) {
      events++;
      size += event.data.length;
    },
  });
  for (let i = 0; i < chunks.length; i++) parser.feed(chunks[i]!);
  parser.end();
  return { events, size };
}

async function eddyParserStream(source: ReadableStream<Uint8Array>): Promise<Digest> {
  let events = 0;
  let size = 0;
  const reader = source.pipeThrough(new EventStreamParser()).getReader();
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    events++;
    size += step.value.data.length;
  }
  return { events, size };
}

async function eddyParseEventStream(source: ReadableStream<Uint8Array>): Promise<Digest> {
  let events = 0;
  let size = 0;
  for await (const event of parseEventStream(source)) {
    events++;
    size += event.data.length;
  }
  return { events, size };
}

function espDecodeFeed(chunks: readonly Uint8Array[]): Digest {
  let events = 0;
  let size = 0;
  const decoder = new TextDecoder();
  const parser = createEspParser({
    onEvent(event) {
      events++;
      size += event.data.length;
    },
  });
  for (let i = 0; i < chunks.length; i++) parser.feed(decoder.decode(chunks[i]!, STREAM));
  parser.feed(decoder.decode());
  return { events, size };
}

function espFeedString(chunks: readonly string[]): Digest {
  let events = 0;
  let size = 0;
  const parser = createEspParser({
    onEvent(event) {
      events++;
      size += event.data.length;
    },
  });
  for (let i = 0; i < chunks.length; i++) parser.feed(chunks[i]!);
  return { events, size };
}

async function espParserStream(source: ReadableStream<Uint8Array<ArrayBuffer>>): Promise<Digest> {
  let events = 0;
  let size = 0;
  const reader = source.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    events++;
    size += step.value.data.length;
  }
  return { events, size };
}

// Floors: the least any parser must do, decode every byte once and find every line feed. No
// events are built, so a parser can approach these rows but not pass them. Each counts the LFs it
// found and the UTF-16 units it decoded, checked every pass like the parsers' digests.

/** Counts the LFs of `text` with `indexOf`, the way a line splitter finds them. */
function lineFeeds(text: string): number {
  let count = 0;
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) count++;
  return count;
}

/**
 * Where the chunks end once each is cut back to just after its last ASCII byte (an ASCII byte
 * always ends a character; a chunk with none joins the next): pieces of whole characters that a
 * one-shot decode takes without a U+FFFD. A one-shot decode of a chunk that ends inside a
 * character is not only wrong but slow on Deno and Bun (korean, 16 KiB: 3.7 ms against 2.3 ms per
 * 2 MB cut back to line ends), so the one-shot floors decode these pieces: a parser that decodes
 * up to its chunks' last line ends, as ours does, pays no more than this.
 */
function wholeCharacterCuts(bytes: Uint8Array, cuts: readonly number[]): number[] {
  const pieces: number[] = [];
  let from = 0;
  for (let i = 0; i < cuts.length - 1; i++) {
    let end = cuts[i]!;
    while (end > from && bytes[end - 1]! >= 0x80) end--;
    if (end > from) {
      pieces.push(end);
      from = end;
    }
  }
  pieces.push(bytes.length);
  return pieces;
}

/** One-shot `decode(piece)` per piece of whole characters (`wholeCharacterCuts`). */
function floorDecode(chunks: readonly Uint8Array[]): Digest {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let events = 0;
  let size = 0;
  for (let i = 0; i < chunks.length; i++) {
    const text = decoder.decode(chunks[i]!);
    size += text.length;
    events += lineFeeds(text);
  }
  return { events, size };
}

/** `decode(chunk, { stream: true })` per chunk: the decode every string parser's user pays. */
function floorStreamDecode(chunks: readonly Uint8Array[]): Digest {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  let events = 0;
  let size = 0;
  for (let i = 0; i < chunks.length; i++) {
    const text = decoder.decode(chunks[i]!, STREAM);
    size += text.length;
    events += lineFeeds(text);
  }
  decoder.decode();
  return { events, size };
}

/** `indexOf` over the pre-decoded strings. */
function floorString(chunks: readonly string[]): Digest {
  let events = 0;
  let size = 0;
  for (let i = 0; i < chunks.length; i++) {
    size += chunks[i]!.length;
    events += lineFeeds(chunks[i]!);
  }
  return { events, size };
}

/**
 * The floor of any parser that hands out events: each piece of whole characters
 * (`wholeCharacterCuts`) decoded the cheaper way (`plan`),
 * every LF found, one `slice` per data line (the line after its first 6 characters, standing
 * for the value every parser cuts out; only a line's first character read, no field names), the
 * data lines of an event joined by LF as the spec's data buffer asks (a string concatenation, as
 * the parsers build it), and a new event object per empty line, handed to a callback that reads
 * its data's length as the parsers' callbacks do. Every parser does at least this (and more:
 * field names, CR line ends, ids), so this ratio is the ceiling of `feed(bytes)` with the parsing
 * itself left out.
 */
function floorEvents(chunks: readonly Uint8Array[], plan: DecodePlan): Digest {
  const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
  const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
  const digest = { events: 0, size: 0 };
  const floor = new EventFloor((event) => {
    digest.events++;
    digest.size += event.data.length;
  });
  for (let i = 0; i < chunks.length; i++) {
    floor.text(plan.oneShot[i] ? oneShot.decode(chunks[i]!) : streaming.decode(chunks[i]!, STREAM));
  }
  return digest;
}

type FloorEvent = { type: string; data: string; lastEventId: string };

/** The least work of handing out events from decoded text: what `floorEvents` does per chunk. */
class EventFloor {
  #data = "";
  #lines = 0; // data lines in #data
  #pending = "";
  readonly #onEvent: (event: FloorEvent) => void;

  constructor(onEvent: (event: FloorEvent) => void) {
    this.#onEvent = onEvent;
  }

  text(text: string): void {
    let pos = 0;
    let lf = text.indexOf("\n");
    if (this.#pending !== "") {
      // A line that spans chunks is joined once, when it ends (as the parsers do).
      if (lf === -1) {
        this.#pending += text;
        return;
      }
      this.#line(this.#pending + text.slice(0, lf), 0, lf + this.#pending.length);
      this.#pending = "";
      pos = lf + 1;
      lf = text.indexOf("\n", pos);
    }
    for (; lf !== -1; lf = text.indexOf("\n", pos)) {
      this.#line(text, pos, lf);
      pos = lf + 1;
      // A line followed at once by an empty one (the end of most events) dispatches without a
      // second search, as the parsers' loops do: a floor must not do more work than they do.
      if (text.charCodeAt(pos) === 0x0a) this.#line(text, pos, pos++);
    }
    if (pos < text.length) this.#pending = text.slice(pos);
  }

  #line(text: string, start: number, end: number): void {
    if (start === end) {
      this.#onEvent({ type: "message", data: this.#data, lastEventId: "" });
      this.#data = "";
      this.#lines = 0;
    } else if (text.charCodeAt(start) === 0x64) {
      // A "d": a data line (the least a parser can look at to tell one). Multi-line data is
      // joined, which the multiline corpora's events (2-8 data lines each) cannot do without.
      const value = text.slice(start + 6, end);
      this.#data = this.#lines++ === 0 ? value : this.#data + "\n" + value;
    }
  }
}

/**
 * The floor of a stream of events built on the same loop: the body piped (`pipeTo`, as
 * `pipeThrough` does) into a writable whose writes decode each chunk the cheaper way
 * (`FloorPlan`: the chunks of a stream may end inside a character) and hand it to `EventFloor`,
 * whose events are enqueued straight onto a `ReadableStream` (no `TransformStream` bookkeeping) and
 * read one by one, as `EventStreamParser`'s are: the least a transform-shaped parser pays, so its
 * ratio is the ceiling of `EventStreamParser`.
 */
async function floorEventStream(source: ReadableStream<Uint8Array>, plan: FloorPlan): Promise<Digest> {
  const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
  const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
  let out!: ReadableStreamDefaultController<FloorEvent>;
  // Backpressure as EventStreamParser's: a write that enqueued events waits for the next pull
  // (without it the queue of a whole body's events is quadratic to drain on Node 20).
  let wanted = false;
  let resume: (() => void) | undefined;
  let enqueued = false;
  const floor = new EventFloor((event) => {
    enqueued = true;
    out.enqueue(event);
  });
  const readable = new ReadableStream<FloorEvent>(
    {
      start(controller) {
        out = controller;
      },
      pull() {
        wanted = true;
        const go = resume;
        resume = undefined;
        go?.();
      },
    },
    { highWaterMark: 0 },
  );
  let i = 0;
  const writable = new WritableStream<Uint8Array>(
    {
      write(chunk) {
        enqueued = false;
        floor.text(plan.ascii[i++] ? oneShot.decode(chunk) : streaming.decode(chunk, STREAM));
        if (enqueued) wanted = false;
        if (wanted) return undefined;
        return new Promise<void>((resolve) => {
          resume = resolve;
        });
      },
      close() {
        out.close();
      },
    },
    { highWaterMark: 1 },
  );
  const piped = source.pipeTo(writable);
  const reader = readable.getReader();
  let events = 0;
  let size = 0;
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    events++;
    size += step.value.data.length;
  }
  await piped;
  return { events, size };
}

/**
 * Which decoder `floorEvents` gives each piece (of whole characters), chosen before timing: the
 * one-shot for ASCII pieces, and for the others whichever of the two decoded this corpus's
 * non-ASCII pieces faster here (engines differ: on Node 20 the streaming one, on Deno the one-shot).
 */
type DecodePlan = { oneShot: boolean[] };

function decodePlan(chunks: readonly Uint8Array[]): DecodePlan {
  const ascii = chunks.map((chunk) => chunk.every((byte) => byte < 0x80));
  const others = chunks.filter((_, i) => !ascii[i]);
  const fastest = (decode: (chunk: Uint8Array) => string) => {
    let best = Number.POSITIVE_INFINITY;
    for (let pass = 0; pass < 7; pass++) {
      const start = performance.now();
      for (const chunk of others) decode(chunk);
      best = Math.min(best, performance.now() - start);
    }
    return best;
  };
  const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
  const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
  const oneShotFaster =
    others.length > 0 &&
    fastest((chunk) => oneShot.decode(chunk)) < fastest((chunk) => streaming.decode(chunk, STREAM));
  return { oneShot: ascii.map((isAscii) => isAscii || oneShotFaster) };
}

/**
 * Which decoder a floor gives each chunk: one-shot when the chunk is ASCII, streaming otherwise,
 * chosen before timing. On Node each is the faster one for such a chunk; a parser cannot know in
 * advance, so this is a lower bound.
 */
type FloorPlan = { ascii: boolean[]; events: number[] };

function floorPlan(chunks: readonly Uint8Array[]): FloorPlan {
  const events: number[] = [];
  let count = 0;
  const parser = createParser({ onEvent: () => count++ });
  for (const chunk of chunks) {
    const before = count;
    parser.feed(chunk);
    events.push(count - before);
  }
  return { ascii: chunks.map((chunk) => chunk.every((byte) => byte < 0x80)), events };
}

/** The body read chunk by chunk, each decoded the cheaper way and scanned: the floor of `parseEventStream`. */
async function floorRead(source: ReadableStream<Uint8Array>, plan: FloorPlan): Promise<Digest> {
  const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
  const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
  const reader = source.getReader();
  let events = 0;
  let size = 0;
  for (let i = 0; ; i++) {
    const step = await reader.read();
    if (step.done) break;
    const text = plan.ascii[i] ? oneShot.decode(step.value) : streaming.decode(step.value, STREAM);
    size += text.length;
    events += lineFeeds(text);
  }
  return { events, size };
}

/**
 * The floor of a `TransformStream` parser: the body piped through a transform that decodes each
 * chunk the cheaper way, scans it, and enqueues one (shared) object for each event the chunk
 * completes, read one by one. What is left to a parser is the parsing.
 */
async function floorTransform(source: ReadableStream<Uint8Array>, plan: FloorPlan): Promise<Digest> {
  const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
  const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
  const event = { type: "message", data: "", lastEventId: "" };
  let size = 0;
  let i = 0;
  const transform = new TransformStream<Uint8Array, typeof event>({
    transform(chunk, controller) {
      const text = plan.ascii[i] ? oneShot.decode(chunk) : streaming.decode(chunk, STREAM);
      size += text.length + lineFeeds(text);
      for (let k = plan.events[i++]!; k > 0; k--) controller.enqueue(event);
    },
  });
  const reader = source.pipeThrough(transform).getReader();
  let events = 0;
  for (;;) {
    const step = await reader.read();
    if (step.done) break;
    events++;
  }
  return { events, size };
}

/**
 * A body-like byte stream: one chunk per `pull`, as a network body delivers them. (Queueing every
 * chunk up front would be cheaper per chunk but is quadratic in Node 20, whose stream queue
 * shifts a large array, and would swamp the parsers with ~1 s of shared overhead.)
 */
function sourceOf(chunks: readonly Uint8Array<ArrayBuffer>[]): ReadableStream<Uint8Array<ArrayBuffer>> {
  let next = 0;
  return new ReadableStream<Uint8Array<ArrayBuffer>>({
    pull(controller) {
      if (next < chunks.length) controller.enqueue(chunks[next++]!);
      else controller.close();
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Cases, pairs and targets

const CASES = {
  eddyBytes: "eddy feed(bytes)",
  eddyString: "eddy feed(string)",
  eddyStream: "eddy EventStreamParser",
  eddyIterable: "eddy parseEventStream",
  espDecode: "esp decode+feed",
  espString: "esp feed(string)",
  espStream: "esp DecoderStream+ParserStream",
  floorDecode: "floor decode+indexOf",
  floorStreamDecode: "floor stream-decode+indexOf",
  floorString: "floor indexOf (strings)",
  floorEvents: "floor decode+slice+join+event",
  floorRead: "floor read+decode+indexOf",
  floorTransform: "floor transform+enqueue/event",
  floorEventStream: "floor pipe+decode+slice+join+event/read",
  controlDecode: "control: esp decode+feed again",
  controlStream: "control: esp DecoderStream+ParserStream again",
} as const;
type CaseKey = keyof typeof CASES;

const CASE_REFS = (Object.keys(CASES) as CaseKey[]).map((key) => ({ key, name: CASES[key] }));

/**
 * What each case receives: the corpus bytes, where to split them, the digest to expect of
 * the parsers, and of the floors whose decode is exact (LF bytes of the corpus, its text length).
 */
type GroupInput = { bytes: Uint8Array; cuts: number[]; expect: Digest; floor: Digest };

/** Worker side: one case over one corpus/chunking. */
function makeCase(key: CaseKey, input: GroupInput): Case<any> {
  const { expect } = input;
  // Each case process builds only the chunks its case reads.
  const bytes = () => sliceChunks(input.bytes, input.cuts);
  const strings = () => decodeChunks(input.bytes, input.cuts);
  const source = (chunks: Uint8Array<ArrayBuffer>[]) => () => sourceOf(chunks);
  switch (key) {
    case "eddyBytes": {
      const chunks = bytes();
      return { run: () => eddyFeedBytes(chunks), expect };
    }
    case "eddyString": {
      const chunks = strings();
      return { run: () => eddyFeedString(chunks), expect };
    }
    case "eddyStream":
      return { prepare: source(bytes()), run: eddyParserStream, expect };
    case "eddyIterable":
      return { prepare: source(bytes()), run: eddyParseEventStream, expect };
    case "espDecode":
    case "controlDecode": {
      const chunks = bytes();
      return { run: () => espDecodeFeed(chunks), expect };
    }
    case "espString": {
      const chunks = strings();
      return { run: () => espFeedString(chunks), expect };
    }
    case "espStream":
    case "controlStream":
      return { prepare: source(bytes()), run: espParserStream, expect };
    case "floorDecode": {
      const pieces = sliceChunks(input.bytes, wholeCharacterCuts(input.bytes, input.cuts));
      return { run: () => floorDecode(pieces), expect: input.floor };
    }
    case "floorStreamDecode": {
      const chunks = bytes();
      return { run: () => floorStreamDecode(chunks), expect: input.floor };
    }
    case "floorString": {
      const chunks = strings();
      return { run: () => floorString(chunks), expect: input.floor };
    }
    case "floorEvents": {
      const pieces = sliceChunks(input.bytes, wholeCharacterCuts(input.bytes, input.cuts));
      const plan = decodePlan(pieces);
      return { run: () => floorEvents(pieces, plan), expect: floorEvents(pieces, plan) };
    }
    case "floorEventStream": {
      const chunks = bytes();
      const plan = floorPlan(chunks);
      const run = (body: ReadableStream<Uint8Array>) => floorEventStream(body, plan);
      // Its digest is its own (what it decodes depends on the decoder choice), from one untimed pass.
      return { prepare: source(chunks), run, expect: floorEvents(chunks, { oneShot: plan.ascii }) };
    }
    case "floorRead":
    case "floorTransform": {
      const chunks = bytes();
      const plan = floorPlan(chunks);
      // What they decode depends on the decoder choice: the same decodes, outside the timing.
      const oneShot = new TextDecoder("utf-8", { ignoreBOM: true });
      const streaming = new TextDecoder("utf-8", { ignoreBOM: true });
      let units = 0;
      let lines = 0;
      chunks.forEach((chunk, i) => {
        const text = plan.ascii[i] ? oneShot.decode(chunk) : streaming.decode(chunk, STREAM);
        units += text.length;
        lines += lineFeeds(text);
      });
      return key === "floorRead"
        ? { prepare: source(chunks), run: (body) => floorRead(body, plan), expect: { events: lines, size: units } }
        : {
            prepare: source(chunks),
            run: (body) => floorTransform(body, plan),
            expect: { events: expect.events, size: units + lines },
          };
    }
  }
}

/** Which baseline each of our cases is compared with, and the target speed-up. */
function pairing(
  key: CaseKey,
  corpus: Corpus,
  chunking: Chunking,
): { baseline: CaseKey; target: number | undefined } | undefined {
  const big = chunking.name === "16KiB";
  switch (key) {
    case "eddyBytes":
      return { baseline: "espDecode", target: big ? 1.5 : 1.0 };
    case "eddyString":
      return { baseline: "espString", target: big ? 1.5 : 1.0 };
    case "eddyStream":
      return { baseline: "espStream", target: corpus.name.startsWith("tokens") ? 1.0 : 1.5 };
    case "eddyIterable":
      return { baseline: "espStream", target: 1.5 };
    // The floors' ratios are the ceiling of the parser above them; they have no target.
    case "floorDecode":
    case "floorStreamDecode":
    case "floorEvents":
      return { baseline: "espDecode", target: undefined };
    case "floorString":
      return { baseline: "espString", target: undefined };
    case "floorRead":
    case "floorTransform":
    case "floorEventStream":
      return { baseline: "espStream", target: undefined };
    // A/A controls: the baseline again, in processes of its own. Their ratio, 1.0 but for the
    // noise, shows how far this run's ratios can be trusted.
    case "controlDecode":
      return { baseline: "espDecode", target: undefined };
    case "controlStream":
      return { baseline: "espStream", target: undefined };
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Correctness, before any timing

/** How many cases parse (the rest are floors and controls): each is checked against the reference events. */
const PARSERS = CASE_REFS.filter(({ key }) => !key.startsWith("floor") && !key.startsWith("control")).length;

/** The LF bytes of a corpus: a LF byte is never part of a multi-byte character, so its text has as many. */
function lineFeedBytes(bytes: Uint8Array): number {
  let count = 0;
  for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) count++;
  return count;
}

/** Compares events with the reference as they arrive (no event arrays kept), noting the first difference. */
class Checker {
  #next = 0;
  #problem: string | undefined;

  readonly what: string;
  readonly expected: readonly ExpectedEvent[];
  /** Our parsers report the persistent last event ID; eventsource-parser 3.x the block's own `id`. */
  readonly idField: "lastEventId" | "id";

  constructor(what: string, expected: readonly ExpectedEvent[], idField: "lastEventId" | "id") {
    this.what = what;
    this.expected = expected;
    this.idField = idField;
  }

  see(type: string, data: string, id: string | undefined): void {
    if (this.#problem !== undefined) return;
    const index = this.#next++;
    const e = this.expected[index];
    const want = e === undefined ? undefined : { type: e.type, data: e.data, id: e[this.idField] };
    if (want === undefined) {
      this.#problem = `${this.what}: more events than the ${this.expected.length} expected`;
    } else if (type !== want.type || id !== want.id) {
      const got = JSON.stringify({ type, id });
      this.#problem = `${this.what}: event #${index} differs\n  expected ${JSON.stringify({ type: want.type, id: want.id })}\n  received ${got}`;
    } else if (data !== want.data) {
      this.#problem = `${this.what}: event #${index} data differs ${describeDifference(want.data, data)}`;
    }
  }

  /** The first difference, or a count mismatch, or undefined when every event matched. */
  finish(): string | undefined {
    if (this.#problem !== undefined) return this.#problem;
    if (this.#next !== this.expected.length)
      return `${this.what}: ${this.#next} events, expected ${this.expected.length}`;
    return undefined;
  }
}

/** Where two strings first differ, with a little context from each. */
function describeDifference(expected: string, received: string): string {
  let at = 0;
  while (at < expected.length && at < received.length && expected[at] === received[at]) at++;
  const near = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 30), at + 30));
  return `at character ${at} (lengths ${expected.length} / ${received.length})\n  expected …${near(expected)}…\n  received …${near(received)}…`;
}

/** Runs every parser once over one corpus/chunking and returns the differences from the reference. */
async function verify(corpus: Corpus, chunking: Chunking): Promise<string[]> {
  const { bytes, strings } = chunking;
  const checker = (key: CaseKey, idField: "lastEventId" | "id") =>
    new Checker(`${corpus.name} / ${chunking.name} / ${CASES[key]}`, corpus.expected, idField);
  const ours = (key: CaseKey) => {
    const c = checker(key, "lastEventId");
    return { c, onEvent: (e: ServerSentEvent) => c.see(e.type, e.data, e.lastEventId) };
  };
  // eventsource-parser 3.x leaves `event` undefined for the default type.
  const theirs = (key: CaseKey) => {
    const c = checker(key, "id");
    return { c, onEvent: (e: EventSourceMessage) => c.see(e.event ?? "message", e.data, e.id) };
  };
  const checkers: Checker[] = [];

  for (const [key, input] of [
    ["eddyBytes", bytes],
    ["eddyString", strings],
  ] as const) {
    const { c, onEvent } = ours(key);
    const parser = createParser({ onEvent });
    for (const chunk of input) parser.feed(chunk);
    parser.end();
    checkers.push(c);
  }
  {
    const { c, onEvent } = ours("eddyStream");
    for await (const event of sourceOf(bytes).pipeThrough(new EventStreamParser())) onEvent(event);
    checkers.push(c);
  }
  {
    const { c, onEvent } = ours("eddyIterable");
    for await (const event of parseEventStream(sourceOf(bytes))) onEvent(event);
    checkers.push(c);
  }
  {
    const { c, onEvent } = theirs("espDecode");
    const parser = createEspParser({ onEvent });
    const decoder = new TextDecoder();
    for (const chunk of bytes) parser.feed(decoder.decode(chunk, STREAM));
    parser.feed(decoder.decode());
    checkers.push(c);
  }
  {
    const { c, onEvent } = theirs("espString");
    const parser = createEspParser({ onEvent });
    for (const chunk of strings) parser.feed(chunk);
    checkers.push(c);
  }
  {
    const { c, onEvent } = theirs("espStream");
    const events = sourceOf(bytes).pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
    for await (const event of events) onEvent(event);
    checkers.push(c);
  }
  return checkers.map((c) => c.finish()).filter((p): p is string => p !== undefined);
}

async function checkCorrectness(corpora: readonly Corpus[], chunked: Map<Corpus, Chunking[]>): Promise<void> {
  const problems: string[] = [];
  for (const corpus of corpora) {
    for (const chunking of chunked.get(corpus)!) {
      problems.push(...(await verify(corpus, chunking)));
    }
  }
  if (problems.length > 0) {
    console.error(`CORRECTNESS MISMATCH: nothing was timed.\n${problems.join("\n")}`);
    process.exit(1);
  }
  console.log(
    `correctness: ${PARSERS} parsers x ${corpora.length * 2} corpus/chunkings, every event identical to the reference (type, data, id)\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const began = performance.now();
  const options = parseFlags(process.argv.slice(2), "bench-parse.ts", {
    seconds: 42,
    quickSeconds: 4,
    corpora: CORPUS_NAMES,
  });
  const corpora = makeCorpora(options.corpora, options.seed, options.corpusBytes);
  const chunked = new Map(corpora.map((c) => [c, chunkings(c, options.seed)] as const));
  const env = printHeader("bench-parse: eddy vs eventsource-parser 3.x", "bench-parse.ts", options, corpora, [
    "eventsource-parser",
  ]);
  console.log(
    "chunks  : 16KiB = 16 KiB reads; 1-100B = seeded random reads of 1-100 bytes; the same split for every parser",
  );
  console.log("MB      : 10^6 bytes of the UTF-8 corpus, for every case (string feeds too)\n");

  const setupDone = performance.now();
  await checkCorrectness(corpora, chunked);
  const checkDone = performance.now();

  const bundle = await caseBundle(fileURLToPath(import.meta.url));
  await settleCoordinator();
  const plan = planFor(options, corpora.length * 2);
  const rows: ResultRow[] = [];
  const all: Measured[] = [];
  for (const corpus of corpora) {
    for (const chunking of chunked.get(corpus)!) {
      const input: GroupInput = {
        bytes: corpus.bytes,
        cuts: chunking.cuts,
        expect: { events: corpus.expected.length, size: corpus.dataChars },
        floor: { events: lineFeedBytes(corpus.bytes), size: corpus.text.length },
      };
      const measured = await measure(bundle, CASE_REFS, input, plan);
      all.push(...measured);
      const byKey = new Map(CASE_REFS.map((ref, i) => [ref.key, measured[i]!] as const));
      const groupRows = CASE_REFS.map(({ key }) => {
        const m = byKey.get(key)!;
        const row = resultRow(
          { corpus: corpus.name, chunks: chunking.name },
          m,
          corpus.bytes.length,
          corpus.expected.length,
        );
        const pair = pairing(key, corpus, chunking);
        if (pair !== undefined) judge(row, m, byKey.get(pair.baseline)!, pair.target);
        return row;
      });
      rows.push(...groupRows);
      console.log(groupHeading(`${corpus.name} / ${chunking.name}, ${chunking.bytes.length} chunks`, measured));
      console.log(indent(renderResults(groupRows, [])));
      console.log("");
    }
  }

  console.log("## All results (ratio = baseline time / our time, per-round median [quartiles]; >1 = eddy faster)\n");
  console.log(renderResults(rows, ["corpus", "chunks"]));
  console.log("");
  console.log(targetSummary(rows));
  console.log(busyLine(all));
  console.log(timingLine(began, setupDone, checkDone));
  writeJson(options.json, { benchmark: "parse", env, corpora: corpora.map(describeCorpus), results: rows });
}

runBenchmark(main, makeCase);
