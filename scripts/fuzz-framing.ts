/**
 * Differential fuzzing of the SSE framing, time-bounded:
 *
 *   npx tsx scripts/fuzz-framing.ts [--seconds 10] [--seed N] [--mode all|parse|stream|roundtrip|long]
 *
 * - parse: byte streams biased toward SSE-looking text (field names, colons, spaces, CR/LF/CRLF,
 *   BOMs, NUL, multi-byte and invalid UTF-8), and streams of mostly non-ASCII lines (accents, CJK,
 *   Hangul, emoji, flags, ZWJ sequences, invalid bytes), go to `createParser` in random chunkings
 *   (random cuts, fixed sizes from 1 to 300 bytes, or split in two at every position, so every
 *   multi-byte character and invalid sequence is cut at every point), now and then with
 *   `maxEventSize` as small as the stream's longest line and data allow, and to the spec
 *   transcription (test/_spec-parser.ts) in one piece; both must report the same events,
 *   retries, comments and last event ID.
 * - stream: the same, through `EventStreamParser` and `parseEventStream`.
 * - long: streams of 9 KiB and more (the runs above, repeated) in large chunks (2 KiB to 20 KiB,
 *   random cuts, or split in two at every position of a random window), so that long non-ASCII
 *   segments meet both decoders: the line layer runs with a scripted decoder race (one-shot,
 *   streaming, or switching at any segment) or the program's own, timed one.
 * - roundtrip: random messages go through `encodeEvent`, UTF-8 and random chunking to
 *   `createParser`; the events must be what the messages say, and what the spec reads.
 *
 * Prints the seed, the iterations run and every disagreement, shrunk (fast-check), with the
 * command that replays it. Exit code 1 on a disagreement.
 *
 * @module
 */
import fc from "fast-check";
import { encodeEvent, type EventMessage } from "../core/mod.ts";
import { anyBytes, chunksOf, concat, cuts, eventMessages, intlBytes, sseBytes, splitAt } from "../test/_arbitraries.ts";
import { expectedEvents, runIterate, runLines, runPush, runStream, scriptedRace } from "../test/_harness.ts";
import { specParse, specSizes } from "../test/_spec-parser.ts";

type Mode = "parse" | "stream" | "roundtrip" | "long";
const MODES: readonly Mode[] = ["parse", "stream", "roundtrip", "long"];
// Share of the time budget per mode when all run: the sync parser is the fastest, so it gets most.
const SHARE: Record<Mode, number> = { parse: 0.4, stream: 0.15, roundtrip: 0.25, long: 0.2 };

// ---------------------------------------------------------------------------------------------
// Command line

function parseArgs(argv: readonly string[]): { seconds: number; seed: number; modes: readonly Mode[] } {
  let seconds = 10;
  let seed = (Date.now() ^ Math.floor(Math.random() * 0x7fffffff)) & 0x7fffffff;
  let modes: readonly Mode[] = MODES;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--help" || flag === "-h") {
      console.log(
        "usage: npx tsx scripts/fuzz-framing.ts [--seconds 10] [--seed N] [--mode all|parse|stream|roundtrip|long]",
      );
      process.exit(0);
    }
    if (value === undefined) usage(`${flag} needs a value`);
    i++;
    if (flag === "--seconds") {
      seconds = Number(value);
      if (!(seconds > 0) || !Number.isFinite(seconds))
        usage(`--seconds must be a positive number, received ${JSON.stringify(value)}`);
    } else if (flag === "--seed") {
      seed = Number(value);
      if (!Number.isSafeInteger(seed)) usage(`--seed must be an integer, received ${JSON.stringify(value)}`);
    } else if (flag === "--mode") {
      if (value === "all") modes = MODES;
      else if ((MODES as readonly string[]).includes(value)) modes = [value as Mode];
      else usage(`--mode must be all, parse, stream, roundtrip or long, received ${JSON.stringify(value)}`);
    } else {
      usage(`unknown option ${JSON.stringify(flag)}`);
    }
  }
  return { seconds, seed, modes };
}

function usage(problem: string): never {
  console.error(
    `fuzz-framing: ${problem}\nusage: npx tsx scripts/fuzz-framing.ts [--seconds 10] [--seed N] [--mode all|parse|stream|roundtrip|long]`,
  );
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** Longer streams than the unit tests use: several SSE-looking runs, or random bytes. */
const streamBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.array(sseBytes, { minLength: 1, maxLength: 6 }).map(concat) },
  { weight: 3, arbitrary: fc.array(fc.oneof(intlBytes, sseBytes), { minLength: 1, maxLength: 4 }).map(concat) },
  { weight: 1, arbitrary: anyBytes },
);

/**
 * How to cut the bytes: at random points, into chunks of a fixed size, or in two at each position
 * in turn ("each": one parse per position); `empties` puts an empty read after every chunk (a
 * state a parser must carry across, like a CR or a BOM half); `tight` parses with the smallest
 * `maxEventSize` the stream allows (`createParser` only), so long lines go on as text.
 */
type Chunking = ({ kind: "cuts"; points: number[] } | { kind: "size"; size: number } | { kind: "each" }) & {
  empties: boolean;
  tight: boolean;
};
const chunking: fc.Arbitrary<Chunking> = fc.oneof(
  fc.record({ kind: fc.constant("cuts" as const), points: cuts, empties: fc.boolean(), tight: fc.boolean() }),
  fc.record({
    kind: fc.constant("size" as const),
    size: fc.oneof(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 8, max: 300 })),
    empties: fc.boolean(),
    tight: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("each" as const), empties: fc.boolean(), tight: fc.boolean() }),
);

/** Streams of 9 KiB or more, for the long mode: the runs above, repeated. */
const longBytes: fc.Arbitrary<Uint8Array> = fc
  .array(fc.oneof(intlBytes, intlBytes, sseBytes), { minLength: 1, maxLength: 8 })
  .map((parts) => {
    const unit = concat(parts);
    return unit.length === 0 ? unit : concat(Array.from({ length: Math.ceil(9216 / unit.length) }, () => unit));
  });

/** Large chunks for the long mode; "window" splits in two at each of 200 positions from `from`. */
type LongChunking =
  | { kind: "cuts"; points: number[] }
  | { kind: "size"; size: number }
  | { kind: "window"; from: number };
const longChunking: fc.Arbitrary<LongChunking> = fc.oneof(
  fc.record({ kind: fc.constant("cuts" as const), points: cuts }),
  fc.record({ kind: fc.constant("size" as const), size: fc.integer({ min: 2048, max: 20_000 }) }),
  fc.record({ kind: fc.constant("window" as const), from: fc.nat() }),
);

/** Which decoder the race gives each long segment: a script (cycled; true is one-shot) or the real race. */
const raceScript: fc.Arbitrary<boolean[] | null> = fc.option(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), {
  freq: 4,
});

function cutLong(bytes: Uint8Array, how: LongChunking): Uint8Array[][] {
  if (how.kind === "cuts") return [splitAt(bytes, how.points)];
  if (how.kind === "size") return [chunksOf(bytes, how.size)];
  const from = how.from % (bytes.length + 1);
  const to = Math.min(bytes.length, from + 200);
  return Array.from({ length: to - from + 1 }, (_, i) => [bytes.subarray(0, from + i), bytes.subarray(from + i)]);
}

function compareLong(bytes: Uint8Array, how: LongChunking, script: boolean[] | null): string | undefined {
  const spec = specParse(bytes);
  for (const [index, chunks] of cutLong(bytes, how).entries()) {
    const label = `line layer, race ${script === null ? "timed" : show(script)}${how.kind === "window" ? ` (split ${index})` : ""}`;
    let ours: unknown;
    try {
      ours = script === null ? runPush(chunks) : runLines(chunks, scriptedRace(script));
    } catch (error) {
      return `${label} threw ${String(error)}`;
    }
    const problem = disagreement(ours, spec, label, "spec");
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** The chunkings `how` stands for: one, or for "each" one per split position. */
function cutAll(bytes: Uint8Array, how: Chunking): Uint8Array[][] {
  const ways =
    how.kind === "cuts"
      ? [splitAt(bytes, how.points)]
      : how.kind === "size"
        ? [chunksOf(bytes, how.size)]
        : Array.from({ length: bytes.length + 1 }, (_, at) => [bytes.subarray(0, at), bytes.subarray(at)]);
  return how.empties ? ways.map((chunks) => chunks.flatMap((chunk) => [chunk, new Uint8Array(0)])) : ways;
}

/** The first chunking of `how` (all of them for the stream modes would be slow). */
const cut = (bytes: Uint8Array, how: Chunking): Uint8Array[] => cutAll(bytes, how)[0]!;

// ---------------------------------------------------------------------------------------------
// Comparisons: each returns a description of the disagreement, or undefined.

const show = (value: unknown): string => JSON.stringify(value);

function disagreement(ours: unknown, expected: unknown, who: string, against: string): string | undefined {
  const a = show(ours);
  const b = show(expected);
  return a === b ? undefined : `${who}: ${a}\n  ${against}: ${b}`;
}

function compareParse(bytes: Uint8Array, how: Chunking): string | undefined {
  const spec = specParse(bytes);
  const sizes = specSizes(bytes);
  const options = how.tight ? { maxEventSize: Math.max(1, sizes.longestLine, sizes.largestData) } : {};
  for (const [index, chunks] of cutAll(bytes, how).entries()) {
    const label = `createParser${how.kind === "each" ? ` (split at ${index})` : ""}${how.tight ? `, maxEventSize ${options.maxEventSize}` : ""}`;
    let ours: unknown;
    try {
      ours = runPush(chunks, options);
    } catch (error) {
      return `${label} threw ${String(error)}`;
    }
    const problem = disagreement(ours, spec, label, "spec");
    if (problem !== undefined) return problem;
  }
  return undefined;
}

async function compareStream(bytes: Uint8Array, how: Chunking): Promise<string | undefined> {
  const { events, retries, comments } = specParse(bytes);
  const spec = { events, retries, comments };
  const chunks = cut(bytes, how);
  for (const [who, run] of [
    ["EventStreamParser", runStream],
    ["parseEventStream", runIterate],
  ] as const) {
    let ours: unknown;
    try {
      ours = await run(chunks);
    } catch (error) {
      return `${who} failed with ${String(error)}`;
    }
    const problem = disagreement(ours, spec, who, "spec");
    if (problem !== undefined) return problem;
  }
  return undefined;
}

const utf8 = new TextEncoder();

function compareRoundTrip(messages: EventMessage[], how: Chunking): string | undefined {
  const bytes = utf8.encode(messages.map(encodeEvent).join(""));
  const expected = expectedEvents(messages);
  const ours = runPush(cut(bytes, how)).events;
  return (
    disagreement(ours, expected, "createParser", "messages") ??
    disagreement(specParse(bytes).events, expected, "spec", "messages")
  );
}

// ---------------------------------------------------------------------------------------------
// Running

type Outcome = { mode: Mode; iterations: number; failure?: string };

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(" ");
const chunkSizes = (bytes: Uint8Array, how: Chunking): string =>
  how.kind === "each"
    ? `every split in two${how.tight ? ", tight maxEventSize" : ""}`
    : cut(bytes, how)
        .map((c) => c.length)
        .join("+") + (how.tight ? ", tight maxEventSize" : "");

/**
 * Runs one property for `ms` milliseconds. On a failure, replays its path without the time limit
 * (a minute at most) so shrinking finishes, and describes the smallest counterexample.
 */
async function search<Ts extends [unknown, ...unknown[]]>(
  mode: Mode,
  property: fc.IRawProperty<Ts>,
  describe: (example: Ts) => Promise<string> | string,
  seed: number,
  ms: number,
): Promise<Outcome> {
  const details = await fc.check(property, {
    seed,
    numRuns: Number.MAX_SAFE_INTEGER,
    plugins: [fc.interruptAfterTimeLimit(ms)],
  });
  if (!details.failed || details.counterexample === null) return { mode, iterations: details.numRuns };
  const path = details.counterexamplePath ?? undefined;
  const replay = await fc.check(property, { seed, path, plugins: [fc.interruptAfterTimeLimit(60_000)] });
  const shrunk = replay.failed && replay.counterexample !== null ? replay : details;
  const failure = [
    `disagreement (mode ${mode}, seed ${seed}, path ${shrunk.counterexamplePath}):`,
    `  ${await describe(shrunk.counterexample as Ts)}`,
    `  replay: npx tsx scripts/fuzz-framing.ts --mode ${mode} --seed ${seed}`,
  ].join("\n");
  return { mode, iterations: details.numRuns, failure };
}

async function fuzz(mode: Mode, seed: number, ms: number): Promise<Outcome> {
  const fail = (problem: string | undefined): void => {
    if (problem !== undefined) throw new Error(problem);
  };
  if (mode === "long") {
    return search(
      mode,
      fc.property(longBytes, longChunking, raceScript, (bytes, how, script) => fail(compareLong(bytes, how, script))),
      ([bytes, how, script]) =>
        `bytes    ${bytes.length} B: ${hex(bytes.subarray(0, 256))} ...\n  chunks   ${show(how)}\n  ${compareLong(bytes, how, script)}`,
      seed,
      ms,
    );
  }
  if (mode === "roundtrip") {
    return search(
      mode,
      fc.property(eventMessages, chunking, (messages, how) => fail(compareRoundTrip(messages, how))),
      ([messages, how]) => {
        const bytes = utf8.encode(messages.map(encodeEvent).join(""));
        return `messages ${show(messages)}\n  chunks   ${chunkSizes(bytes, how)}\n  ${compareRoundTrip(messages, how)}`;
      },
      seed,
      ms,
    );
  }
  const describeBytes = async ([bytes, how]: [Uint8Array, Chunking]): Promise<string> => {
    const problem = mode === "parse" ? compareParse(bytes, how) : await compareStream(bytes, how);
    return `bytes    ${hex(bytes)}\n  as text  ${show(new TextDecoder().decode(bytes))}\n  chunks   ${chunkSizes(bytes, how)}\n  ${problem}`;
  };
  if (mode === "parse") {
    return search(
      mode,
      fc.property(streamBytes, chunking, (bytes, how) => fail(compareParse(bytes, how))),
      describeBytes,
      seed,
      ms,
    );
  }
  return search(
    mode,
    fc.asyncProperty(streamBytes, chunking, async (bytes, how) => fail(await compareStream(bytes, how))),
    describeBytes,
    seed,
    ms,
  );
}

async function main(): Promise<void> {
  const { seconds, seed, modes } = parseArgs(process.argv.slice(2));
  const total = modes.reduce((sum, mode) => sum + SHARE[mode], 0);
  console.log(`fuzz-framing: seed ${seed}, ${seconds} s, modes ${modes.join(", ")}`);
  const started = Date.now();
  const outcomes: Outcome[] = [];
  for (const mode of modes) {
    const outcome = await fuzz(mode, seed, (seconds * 1000 * SHARE[mode]) / total);
    outcomes.push(outcome);
    console.log(
      `  ${mode}: ${outcome.iterations} iterations${outcome.failure === undefined ? ", no disagreement" : ""}`,
    );
    if (outcome.failure !== undefined) console.log(outcome.failure);
  }
  const iterations = outcomes.reduce((sum, outcome) => sum + outcome.iterations, 0);
  const failures = outcomes.filter((outcome) => outcome.failure !== undefined).length;
  const elapsed = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `fuzz-framing: seed ${seed}, ${iterations} iterations in ${elapsed} s (${outcomes.map((o) => `${o.mode} ${o.iterations}`).join(", ")}), ` +
      `${failures === 0 ? "no disagreements" : `${failures} disagreement${failures === 1 ? "" : "s"}`}`,
  );
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
