/**
 * Seeded fixtures shared by `scripts/bench-parse.ts` and `scripts/bench-encode.ts`, and the
 * measurement harness both use (flags, case workers, interleaved rounds, ratios, tables, JSON).
 *
 * Fixtures: one fixed seed (printed; `--seed` changes it) drives a small PRNG that builds the
 * message arrays of seven corpora (ASCII ones, ones with a few percent of non-ASCII bytes spread
 * through them, one mostly Hangul), which our own `encodeEvent` turns into ~2 MB of event-stream
 * bytes each, and the seeded chunk splits. `bench-encode` runs the first three by default,
 * `bench-parse` all seven. The expected events are derived from the messages directly (no parser
 * involved), so they are an independent reference for every parser under test.
 *
 * Harness: every case of a group runs in a child process of its own (or, with `--isolation
 * thread`, a worker thread) from an esbuild bundle of the script; the coordinator interleaves
 * their samples round by round, checks each pass's digest, and reports medians and per-round
 * ratios. Why each of these choices was needed, with the measurements behind it, is noted where
 * it is made.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { encodeEvent, type EventMessage } from "../core/mod.ts";
import { CASE_ENV, type CaseMessage, CaseProcess, type CaseReply, ReplySlot, serveOverStdio } from "./_case-process.ts";

/** The default seed of every corpus and of the random chunker (`--seed` overrides it). */
const SEED = 0x5eedd1;

/** Each corpus grows until its encoded form holds at least this many UTF-8 bytes. */
const TARGET_BYTES = 2_000_000;

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a tiny 32-bit PRNG; the same sequence on every engine and platform. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
/** A uniform integer in [lo, hi]. */
const int = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

// ---------------------------------------------------------------------------------------------
// Corpora

/** One event as the spec dispatches it, plus the `id` written in its own block. */
export type ExpectedEvent = {
  type: string;
  data: string;
  /** The persistent last event ID at dispatch: what our parsers report. */
  lastEventId: string;
  /** The `id` of this event's own block: what eventsource-parser 3.x reports (it does not persist). */
  id: string | undefined;
};

export type CorpusName = "tokens" | "json" | "multiline" | "tokens-intl" | "json-intl" | "multiline-intl" | "korean";
// New names go last: a corpus's PRNG stream and chunk split derive from its index here.
/** Every corpus, in the order their seeds derive from. */
export const CORPUS_NAMES: readonly CorpusName[] = [
  "tokens",
  "json",
  "multiline",
  "tokens-intl",
  "json-intl",
  "multiline-intl",
  "korean",
];
/** The corpora a benchmark runs when `--corpus` is not given and it names no default of its own. */
const ORIGINAL_CORPORA: readonly CorpusName[] = ["tokens", "json", "multiline"];

export type Corpus = {
  name: CorpusName;
  description: string;
  /** The messages, as a server hands them to an encoder. */
  messages: EventMessage[];
  /** `encodeEvent` of every message, concatenated. */
  text: string;
  /** `text` as UTF-8. */
  bytes: Uint8Array;
  expected: ExpectedEvent[];
  /** Sum of `data.length` over the expected events: the checksum every timed pass must match. */
  dataChars: number;
  /** The share of `bytes` that are 0x80 or above (the bytes of non-ASCII characters), 0 to 1. */
  nonAscii: number;
};

// biome-ignore format: a packed word list reads better than one word per line
const TOKENS = [
  " the", " a", " of", " to", " and", " in", " is", " that", " for", " it", " with", " as", " on",
  " model", " stream", " event", " server", " token", "ing", "ed", "s", "ly", ",", ".", ":", " (",
  ")", "\n", "\n\n", " I", " you", " we", " can", " will", "'s", " not", " be", " this", " data",
  "```", "ts", " const", " =", " {", " }", ";", ' "', '"', "\\", " 42", " 3", ".14", " -", " *",
];
// biome-ignore format: a packed word list reads better than one word per line
const WORDS = [
  "lorem", "ipsum", "dolor", "sit", "amet", "stream", "event", "parser", "buffer", "chunk",
  "server", "client", "socket", "message", "payload", "latency", "throughput", "reconnect",
  "heartbeat", "proxy", "origin", "header", "request", "response", "token", "delta", "model",
];
// biome-ignore format: a packed word list reads better than one word per line
const INTL_WORDS = [
  "café", "naïve", "façade", "Übermäßig", "señor", "crème brûlée", "smörgåsbord", "Ærøskøbing",
  "Łódź", "Ελληνικά", "русский", "עברית", "العربية", "हिन्दी", "漢字", "日本語のテキスト",
  "中文字符", "한국어", "東京", "北京", "😀", "🚀", "👍🏽", "🎉", "❤️", "👨‍👩‍👧", "🇫🇷", "∑∫√",
];
const EVENT_TYPES = ["chunk", "delta", "message.created", "tool_call", "usage", "ping.ok"];

function words(rng: Rng, count: number, intlShare: number): string {
  let text = "";
  for (let i = 0; i < count; i++) {
    if (i > 0) text += " ";
    text += rng() < intlShare ? pick(rng, INTL_WORDS) : pick(rng, WORDS);
  }
  return text;
}

/** LLM-style token stream: `data: {"delta":"…"}`, with an `id:` on ~4% of events. */
function tokenMessage(rng: Rng, i: number): EventMessage {
  let delta = pick(rng, TOKENS);
  if (rng() < 0.3) delta += pick(rng, TOKENS);
  const message: EventMessage = { data: JSON.stringify({ delta }) };
  if (rng() < 0.04) message.id = String(i);
  return message;
}

/** A ~1 KiB chat-completion-chunk-like JSON event with `event` and `id`. */
function jsonMessage(rng: Rng, i: number): EventMessage {
  const body = {
    id: `evt_${((rng() * 2 ** 32) >>> 0).toString(36)}`,
    object: "chat.completion.chunk",
    created: 1_760_000_000 + i,
    model: "eddy-bench-1",
    choices: [
      {
        index: 0,
        delta: { role: "assistant", content: "" },
        logprobs: null,
        finish_reason: rng() < 0.05 ? "stop" : null,
      },
    ],
    usage: { prompt_tokens: int(rng, 10, 4000), completion_tokens: int(rng, 1, 4000) },
    meta: {
      region: pick(rng, ["eu-west", "us-east", "ap-south"]),
      tags: Array.from({ length: int(rng, 1, 5) }, () => pick(rng, WORDS)),
    },
  };
  const size = int(rng, 900, 1150) - JSON.stringify(body).length;
  let text = "";
  while (text.length < size) text += pick(rng, WORDS) + (rng() < 0.05 ? ' "quoted"\t' : " ");
  body.choices[0]!.delta.content = text;
  return { event: pick(rng, EVENT_TYPES), id: String(i), data: JSON.stringify(body) };
}

/** 2–8 lines of words (`intlShare` of them accents/CJK/emoji), joined by LF (85%), CRLF (10%) or CR (5%). */
function multilineMessage(rng: Rng, i: number, intlShare: number): EventMessage {
  const count = int(rng, 2, 8);
  let data = "";
  for (let l = 0; l < count; l++) {
    if (l > 0) {
      const r = rng();
      data += r < 0.85 ? "\n" : r < 0.95 ? "\r\n" : "\r";
    }
    if (rng() >= 0.05) data += words(rng, int(rng, 2, 14), intlShare);
  }
  const message: EventMessage = { data };
  if (rng() < 0.3) message.event = pick(rng, EVENT_TYPES);
  if (rng() < 0.5) message.id = `m-${i}`;
  return message;
}

// ---- Corpora with a few percent non-ASCII, and one mostly Hangul -------------------------------

// biome-ignore format: a packed word list reads better than one word per line
/**
 * Tokens of every UTF-8 width, and the multi-code-point sequences a tokenizer emits whole: 2-byte
 * accents, 3-byte CJK, Hangul and punctuation, 4-byte emoji, skin tones, regional-indicator flags,
 * ZWJ sequences and emoji with VS16.
 */
const INTL_TOKENS = [
  " café", "é", "ü", " naïve", " señor", "ß", " Łódź", " Ελλάδα", " русский", " 漢字", "日本", "語", " 中文",
  " 한국어", "입니다", " —", "…", " “", "”", " €", "😀", " 🚀", "👍🏽", "🇫🇷", "🇰🇷", "👨‍👩‍👧", "🏳️‍🌈", "❤️", "👩🏽‍💻",
];

/** Like {@link tokenMessage}, with one token in ~11 drawn from {@link INTL_TOKENS} (~2% of the bytes). */
function tokenIntlMessage(rng: Rng, i: number): EventMessage {
  const token = () => (rng() < 0.09 ? pick(rng, INTL_TOKENS) : pick(rng, TOKENS));
  let delta = token();
  if (rng() < 0.3) delta += token();
  const message: EventMessage = { data: JSON.stringify({ delta }) };
  if (rng() < 0.04) message.id = String(i);
  return message;
}

/** Like {@link jsonMessage}, its text and tags with a word in ~20 from {@link INTL_WORDS} (~3% of the bytes). */
function jsonIntlMessage(rng: Rng, i: number): EventMessage {
  const message = jsonMessage(rng, i);
  const body = JSON.parse(message.data!) as { choices: { delta: { content: string } }[]; meta: { tags: string[] } };
  const content = body.choices[0]!.delta;
  content.content = content.content.replace(/[a-z]+/g, (word) => (rng() < 0.05 ? pick(rng, INTL_WORDS) : word));
  if (rng() < 0.2) body.meta.tags.push(pick(rng, INTL_WORDS));
  return { ...message, data: JSON.stringify(body) };
}

/** Like {@link multilineMessage}, with a word in ~25 from {@link INTL_WORDS} (~3% of the bytes). */
function multilineIntlMessage(rng: Rng, i: number): EventMessage {
  return multilineMessage(rng, i, 0.04);
}

// biome-ignore format: a packed word list reads better than one word per line
const HANGUL_WORDS = [
  "안녕하세요", "감사합니다", "오늘", "날씨", "좋네요", "회의", "시간", "언제", "점심", "먹었어요", "서버", "배포",
  "완료", "확인", "부탁드립니다", "네", "아니요", "잠깐만요", "내일", "봐요", "정말", "대박", "진짜", "그래서",
  "우리", "같이", "할까요", "스트림", "메시지", "연결", "다시", "됐어요", "문제", "없어요", "ㅋㅋㅋ", "ㅎㅎ",
  "알겠습니다", "지금", "바로", "갈게요", "수고하셨습니다", "커피", "한잔", "어때요", "주말", "잘", "보내세요",
  "이거", "맞나요", "테스트", "중입니다", "서울", "부산", "지하철", "늦을", "것", "같아요", "먼저", "시작하세요",
];
const HANGUL_NAMES = [
  "민준",
  "서연",
  "지호",
  "하은",
  "도윤",
  "지우",
  "서준",
  "하윤",
  "예준",
  "수아",
  "김철수",
  "이영희",
];
const CHAT_EXTRAS = ["?", "!", ".", "~", "!!", "😀", "👍", "🙏", "😂", "❤️", "OK", "PR", "API", "v2", "5분", "3시"];
const CHAT_ROOMS = ["lobby", "dev", "random", "seoul-office"];
const BASE64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * A chat message as the chat server frames it (`core/chat/wire.ts`): `id: <epoch>-<seq>` and
 * `data:` its JSON `{"id","room","user","userId","text","time"}`, the text 1-30 mostly Hangul
 * words, now and then an emoji or a Latin token.
 */
function koreanMessage(rng: Rng, i: number): EventMessage {
  let text = "";
  for (let w = int(rng, 1, 30); w > 0; w--) {
    if (text !== "") text += rng() < 0.1 ? pick(rng, CHAT_EXTRAS) + " " : " ";
    text += pick(rng, HANGUL_WORDS);
  }
  if (rng() < 0.5) text += pick(rng, CHAT_EXTRAS);
  let userId = "";
  for (let c = 0; c < 22; c++) userId += BASE64URL[int(rng, 0, 63)];
  const id = `mgx4k2ab-${i + 1}`;
  const message = {
    id,
    room: pick(rng, CHAT_ROOMS),
    user: pick(rng, HANGUL_NAMES),
    userId,
    text,
    time: new Date(1_760_000_000_000 + i * 1_733).toISOString(),
  };
  return { id, data: JSON.stringify(message) };
}

const GENERATORS: Record<CorpusName, [string, (rng: Rng, i: number) => EventMessage]> = {
  tokens: ['tiny LLM token events, data: {"delta":…}, ~4% with id', tokenMessage],
  json: ["~1 KiB JSON events, each with event and id", jsonMessage],
  multiline: ["2-8 data lines, LF/CRLF/CR, 35% of words accents/CJK/emoji", (rng, i) => multilineMessage(rng, i, 0.35)],
  "tokens-intl": ["tokens, 1 in ~11 accented/CJK/Hangul/emoji/flag/ZWJ", tokenIntlMessage],
  "json-intl": ["json, 1 word in ~20 accented/CJK/emoji/flag/ZWJ", jsonIntlMessage],
  "multiline-intl": ["multiline, 4% of words accented/CJK/emoji/flag/ZWJ", multilineIntlMessage],
  korean: ['chat messages, id + {"id","room","user","userId","text","time"}, text mostly Hangul', koreanMessage],
};

/**
 * Builds one corpus. Each corpus draws from its own PRNG stream (derived from `seed` and its
 * name), so building a subset gives the same corpora as building all of them.
 */
function makeCorpus(name: CorpusName, seed = SEED, targetBytes = TARGET_BYTES): Corpus {
  const [description, generate] = GENERATORS[name];
  const rng = prng((seed ^ Math.imul(CORPUS_NAMES.indexOf(name) + 1, 0x9e3779b9)) >>> 0);
  const encoder = new TextEncoder();
  const messages: EventMessage[] = [];
  const frames: string[] = [];
  let size = 0;
  while (size < targetBytes) {
    const message = generate(rng, messages.length);
    const frame = encodeEvent(message);
    messages.push(message);
    frames.push(frame);
    size += Buffer.byteLength(frame);
  }
  const text = frames.join("");

  // The reference events, straight from the messages (HTML §9.2.6 semantics).
  const expected: ExpectedEvent[] = [];
  let lastEventId = "";
  let dataChars = 0;
  for (const m of messages) {
    if (m.id !== undefined) lastEventId = m.id;
    if (m.data === undefined) continue;
    const data = m.data.replace(/\r\n|\r/g, "\n");
    dataChars += data.length;
    expected.push({ type: m.event === undefined || m.event === "" ? "message" : m.event, data, lastEventId, id: m.id });
  }
  const bytes = encoder.encode(text);
  let high = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) high++;
  return { name, description, messages, text, bytes, expected, dataChars, nonAscii: high / bytes.length };
}

/** A corpus without its data, for reports. */
export const describeCorpus = (c: Corpus) => ({
  name: c.name,
  description: c.description,
  bytes: c.bytes.length,
  nonAsciiBytes: c.nonAscii,
  messages: c.messages.length,
  events: c.expected.length,
});

export function makeCorpora(names: readonly CorpusName[], seed = SEED, targetBytes = TARGET_BYTES): Corpus[] {
  return names.map((name) => makeCorpus(name, seed, targetBytes));
}

// ---------------------------------------------------------------------------------------------
// Chunkers

type ChunkingName = "16KiB" | "1-100B";
const CHUNKING_NAMES: readonly ChunkingName[] = ["16KiB", "1-100B"];

export type Chunking = {
  name: ChunkingName;
  /** The end offset of every chunk: all a worker needs to rebuild the same split. */
  cuts: number[];
  /** The corpus bytes, split; each chunk is its own buffer, as a network read would be. */
  bytes: Uint8Array<ArrayBuffer>[];
  /**
   * The same chunks decoded by one streaming `TextDecoder`: a character split across chunks
   * lands in the later string, so a few strings may be "".
   */
  strings: string[];
};

/**
 * Where the chunks of a `length`-byte corpus end: 16 KiB reads, or seeded random reads of
 * 1–100 bytes (which split multi-byte characters freely). The seed depends on the corpus, so
 * every parser sees the same split of the same corpus.
 */
function chunkCuts(length: number, name: ChunkingName, seed: number): number[] {
  const cuts: number[] = [];
  if (name === "16KiB") {
    for (let at = 16 * 1024; at < length; at += 16 * 1024) cuts.push(at);
  } else {
    const rng = prng(seed);
    for (let at = int(rng, 1, 100); at < length; at += int(rng, 1, 100)) cuts.push(at);
  }
  cuts.push(length);
  return cuts;
}

/** Splits `bytes` at `cuts`, copying each chunk into its own buffer as a network read would. */
export function sliceChunks(bytes: Uint8Array, cuts: readonly number[]): Uint8Array<ArrayBuffer>[] {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  let from = 0;
  for (const to of cuts) {
    chunks.push(bytes.slice(from, to));
    from = to;
  }
  return chunks;
}

/** Decodes `bytes` split at `cuts` with one streaming `TextDecoder`: one string per chunk. */
export function decodeChunks(bytes: Uint8Array, cuts: readonly number[]): string[] {
  const decoder = new TextDecoder();
  const strings: string[] = [];
  let from = 0;
  for (const to of cuts) {
    strings.push(decoder.decode(bytes.subarray(from, to), { stream: true }));
    from = to;
  }
  if (decoder.decode() !== "") throw new Error("decodeChunks: the bytes end inside a character");
  return strings;
}

function materialize(bytes: Uint8Array, name: ChunkingName, cuts: readonly number[]): Chunking {
  return { name, cuts: [...cuts], bytes: sliceChunks(bytes, cuts), strings: decodeChunks(bytes, cuts) };
}

/** The two chunkings of a corpus. */
export function chunkings(corpus: Corpus, seed = SEED): Chunking[] {
  const chunkSeed = (seed + 0x1000 + CORPUS_NAMES.indexOf(corpus.name)) >>> 0;
  return CHUNKING_NAMES.map((name) => materialize(corpus.bytes, name, chunkCuts(corpus.bytes.length, name, chunkSeed)));
}

// ---------------------------------------------------------------------------------------------
// Flags

/**
 * Where a case runs. `process` (default): a child process of the same runtime, so its CPU time is
 * its own (see `_case-process.ts`). `thread`: a worker thread, whose CPU time is the whole
 * process's, the other cases' idle isolates included; kept to compare the two.
 */
type Isolation = "process" | "thread";

export type BenchOptions = {
  quick: boolean;
  /** What a pass costs: this process's CPU time (default: robust on a shared machine) or wall time. */
  clock: "cpu" | "wall";
  /** Where each case runs: a child process of its own (default) or a worker thread. */
  isolation: Isolation;
  /** Corpus size in bytes (smaller with --quick). */
  corpusBytes: number;
  /** Budget of the timed rounds of the whole run, in seconds (start-up, checks and warm-up excluded). */
  seconds: number;
  json: string | undefined;
  /** Fresh replicas per group (default 1). */
  replicas: number | undefined;
  seed: number;
  corpora: CorpusName[];
};

export function parseFlags(
  argv: readonly string[],
  script: string,
  defaults: { seconds: number; quickSeconds: number; corpora?: readonly CorpusName[] },
): BenchOptions {
  const usage = `usage: tsx scripts/${script} [--quick] [--seconds N] [--replicas N] [--json out.json] [--clock cpu|wall] [--seed N] [--corpus ${CORPUS_NAMES.join(",")}]
  --quick        ~10 s smoke run: 0.5 MB corpora (prefixes of the full ones), fewer and shorter
                 rounds; a check that things run, too noisy for decisions
  --seconds N    budget of the timed rounds, split evenly between the groups (default ${defaults.seconds};
                 --quick: ${defaults.quickSeconds}); a group still runs at least 6 rounds per replica
                 (--quick: 2), and start-up, checks and warm-up come on top
  --replicas N   measure each group N times, each time in fresh processes, pooling the rounds
                 (default 1). Fresh isolates of one case can settle 5-15% apart; use 3 or more,
                 with more --seconds, when a ratio sits near its target
  --json FILE    also write every measurement as JSON
  --clock C      cpu (default): the process's CPU time per pass, which leaves out the time other
                 processes on a shared machine hold the cores; wall: elapsed time (--json records both)
  --isolation I  process (default): each case in a child process of its own, its CPU time its
                 own; thread: each case in a worker thread, the process's CPU time shared
  --seed N       corpus and chunking seed (default ${SEED})
  --corpus LIST  only these corpora (comma-separated; default ${(defaults.corpora ?? ORIGINAL_CORPORA).join(",")})`;
  const options: BenchOptions = {
    quick: false,
    clock: "cpu",
    isolation: "process",
    corpusBytes: TARGET_BYTES,
    seconds: NaN,
    json: undefined,
    replicas: undefined,
    seed: SEED,
    corpora: [...(defaults.corpora ?? ORIGINAL_CORPORA)],
  };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined) fail(`${flag} needs a value\n${usage}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    const take = () => inline ?? value(++i, flag);
    switch (flag) {
      case "--quick":
        options.quick = true;
        break;
      case "--seconds": {
        const s = Number(take());
        if (!(s > 0)) fail(`--seconds must be a positive number\n${usage}`);
        options.seconds = s;
        break;
      }
      case "--clock": {
        const c = take();
        if (c !== "cpu" && c !== "wall") fail(`--clock must be cpu or wall\n${usage}`);
        options.clock = c;
        break;
      }
      case "--isolation": {
        const i = take();
        if (i !== "process" && i !== "thread") fail(`--isolation must be process or thread\n${usage}`);
        options.isolation = i;
        break;
      }
      case "--json":
        options.json = take();
        break;
      case "--replicas": {
        const r = Number(take());
        if (!Number.isInteger(r) || r < 1) fail(`--replicas must be a positive integer\n${usage}`);
        options.replicas = r;
        break;
      }
      case "--seed": {
        const s = Number(take());
        if (!Number.isInteger(s)) fail(`--seed must be an integer\n${usage}`);
        options.seed = s >>> 0;
        break;
      }
      case "--corpus": {
        const names = take().split(",").filter(Boolean);
        for (const n of names) if (!CORPUS_NAMES.includes(n as CorpusName)) fail(`unknown corpus "${n}"\n${usage}`);
        options.corpora = names as CorpusName[];
        break;
      }
      case "--help":
      case "-h":
        console.log(usage);
        process.exit(0);
        break;
      default:
        fail(`unknown argument "${arg}"\n${usage}`);
    }
  }
  if (Number.isNaN(options.seconds)) options.seconds = options.quick ? defaults.quickSeconds : defaults.seconds;
  if (options.quick) options.corpusBytes = Math.round(TARGET_BYTES / 4);
  return options;
}

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Measurement: every case runs in its own fresh process (or worker thread)

/** What a timed pass returns: the work it consumed, checked against the expectation every pass. */
export type Digest = { events: number; size: number };

/**
 * One benchmark case. `prepare` builds the pass's input outside the timed region (a fresh
 * source stream, say); `run` is timed and must return a digest of everything it consumed, so
 * the engine cannot drop the work, and so a silently wrong result aborts the run.
 */
export type Case<T = unknown> = {
  prepare?: () => T;
  run: (input: T) => Digest | Promise<Digest>;
  expect: Digest;
};

/** A case as the coordinator knows it: a key its worker understands, and a display name. */
export type CaseRef = { key: string; name: string };

export type Measured = {
  name: string;
  /** Wall ms the group spent starting its workers and loading its input, warming up, and in timed rounds. */
  phases: { startup: number; warmup: number; timed: number };
  /** Fresh replicas (new processes or workers) whose rounds are pooled. */
  replicas: number;
  /** How many of the rounds each replica ran, in order. */
  replicaRounds: number[];
  /** Passes per sample (chosen so a sample lasts about `sampleMs`), in the last replica. */
  passes: number;
  /** Milliseconds per pass on the chosen clock, one value per round, replica after replica. */
  perPass: number[];
  /** The same samples on both clocks. */
  wall: number[];
  cpu: number[];
};

class CorrectnessError extends Error {}

type Cost = { wall: number; cpu: number };

/**
 * CPU time of this process, in ms: it leaves out the time other processes hold the cores. In a
 * case's own process that is the case's time, its GC and JIT threads included. In a worker
 * thread it is the whole process's (Node 20 has no per-thread clock, and Linux's
 * /proc/thread-self/schedstat only advances every scheduler tick, 4 ms here): while a worker runs
 * a pass the others wait for messages, but their isolates' background threads may not.
 */
function processCpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function timePass<T>(c: Case<T>): Promise<Cost> {
  const input = c.prepare === undefined ? (undefined as T) : c.prepare();
  const cpuStart = processCpuMs();
  const start = performance.now();
  const result = c.run(input);
  const digest = result instanceof Promise ? await result : result;
  const wall = performance.now() - start;
  const cpu = processCpuMs() - cpuStart;
  if (digest.events !== c.expect.events || digest.size !== c.expect.size) {
    throw new CorrectnessError(
      `a timed pass consumed ${digest.events} events / ${digest.size} units, expected ${c.expect.events} / ${c.expect.size}`,
    );
  }
  return { wall, cpu };
}

/**
 * A case's side of the protocol, wherever it runs: a `{ load }` message builds the case from the
 * group's input; `{ passes }` times that many passes and replies with the mean cost per pass.
 */
function caseHandler<K extends string, I>(
  key: K,
  make: (key: K, input: I) => Case<any>,
): (message: CaseMessage) => Promise<CaseReply> {
  let c: Case<any> | undefined;
  return async (message) => {
    try {
      if ("load" in message) {
        c = make(key, message.load as I);
        return { ok: true, wall: 0, cpu: 0 };
      }
      const total = { wall: 0, cpu: 0 };
      for (let p = 0; p < message.passes; p++) {
        const t = await timePass(c!);
        total.wall += t.wall;
        total.cpu += t.cpu;
      }
      return { ok: true, wall: total.wall / message.passes, cpu: total.cpu / message.passes };
    } catch (error) {
      const correctness = error instanceof CorrectnessError;
      const text =
        error instanceof Error ? (correctness ? error.message : (error.stack ?? error.message)) : String(error);
      return { ok: false, message: text, correctness };
    }
  };
}

/** Worker side: serves the one case named by `workerData.key` over the worker's port. */
function serveCaseInWorker<K extends string, I>(make: (key: K, input: I) => Case<any>): void {
  const port = parentPort!;
  const handle = caseHandler((workerData as { key: K }).key, make);
  port.on("message", async (message: CaseMessage) => port.postMessage(await handle(message)));
}

/** Coordinator side of one case worker thread (`--isolation thread`). */
class CaseWorker {
  readonly #worker: Worker;
  readonly #reply = new ReplySlot();

  constructor(bundle: URL, ref: CaseRef) {
    this.#worker = new Worker(bundle, { workerData: { key: ref.key } });
    this.#worker.on("message", (reply: CaseReply) => this.#reply.resolve(reply));
    this.#worker.on("error", (error) => this.#reply.reject(error));
    this.#worker.on("exit", (code) => this.#reply.reject(new Error(`worker for ${ref.name} exited with code ${code}`)));
  }

  send(message: CaseMessage): Promise<CaseReply> {
    const reply = this.#reply.wait();
    this.#worker.postMessage(message);
    return reply;
  }

  async terminate(): Promise<void> {
    this.#reply.clear();
    await this.#worker.terminate();
  }
}

/** One case, in a process of its own (the default) or in a worker thread. */
class CaseRunner {
  readonly name: string;
  readonly #host: CaseWorker | CaseProcess;

  constructor(bundle: URL, ref: CaseRef, isolation: Isolation) {
    this.name = ref.name;
    this.#host = isolation === "process" ? new CaseProcess(bundle, ref.key, ref.name) : new CaseWorker(bundle, ref);
  }

  /** Builds the case for a new group. */
  load(input: unknown): Promise<Cost> {
    return this.#send({ load: input });
  }

  /** Mean cost per pass over `passes` passes. */
  run(passes: number): Promise<Cost> {
    return this.#send({ passes });
  }

  async #send(message: CaseMessage): Promise<Cost> {
    const r = await this.#host.send(message);
    if (r.ok) return r;
    if (r.correctness) throw new CorrectnessError(`${this.name}: ${r.message}`);
    throw new Error(
      `${this.name} failed in its ${this.#host instanceof CaseProcess ? "process" : "worker"}: ${r.message}`,
    );
  }

  terminate(): Promise<void> {
    return this.#host.terminate();
  }
}

/**
 * Bundles a benchmark script (core and the peers included) into one ES module for its cases'
 * processes (or workers): a prebuilt bundle starts in milliseconds on every runtime, where tsx
 * would compile the TypeScript again in each (and its loader does not reach worker threads on
 * Node 20). The bundle is what runs timed code; the coordinator only checks and reports.
 */
export async function caseBundle(entry: string): Promise<URL> {
  const { build, stop } = await import("esbuild");
  const dir = mkdtempSync(join(tmpdir(), "eddy-bench-"));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, "worker.mjs");
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: `node${process.versions.node.split(".")[0]}`,
    external: ["esbuild"],
    logLevel: "error",
  });
  await stop(); // esbuild's service process has nothing more to do
  return pathToFileURL(outfile);
}

/**
 * Lets the coordinator's own heap settle before the first timed round: the corpora and the
 * correctness check leave it full of garbage, and the GC work V8 would do about it later
 * (concurrent marking, its idle-time memory reducer) runs on this process's other threads and
 * so lands in the first groups' CPU time. One full collection now, then a pause for the
 * concurrent sweepers.
 */
export async function settleCoordinator(): Promise<void> {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    gc();
    gc();
  } catch {
    // Not exposable here: the pause alone has to do.
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

export type Plan = {
  /** How many times the group is measured, each time in fresh processes (or workers). */
  replicas: number;
  /** Wall-clock budget for this group's timed rounds (all replicas), in ms. */
  budgetMs: number;
  /** Warm-up, interleaved: every case runs at least `warmupPasses` passes and `warmupMs` ms. */
  warmupMs: number;
  warmupPasses: number;
  /** Target wall length of one sample; fast cases repeat the pass to reach it. */
  sampleMs: number;
  /** Rounds per replica, run in pairs (forward, backward): at least `minRounds`, at most `maxRounds`. */
  minRounds: number;
  maxRounds: number;
  clock: "cpu" | "wall";
  isolation: Isolation;
};

/**
 * Measures one group of cases that are compared with each other.
 *
 * Each case runs in a fresh process (or worker thread, `plan.isolation`) of its own, started for
 * this measurement and ended after it. Sharing an isolate lets one workload change how another runs, as measured on
 * Node 20: after a retaining `onEvent` ran in the same isolate, push-parser passes ran ~10x
 * slower (eddy and eventsource-parser alike; not with --no-allocation-site-pretenuring); and a
 * worker kept across groups ran eventsource-parser's multiline string feed at 20 ms per pass in
 * one run and 12.5 ms in another, where fresh processes always took ~12 ms.
 *
 * Even fresh isolates settle into different steady states (JIT and GC decisions, code layout):
 * one isolate's passes agree within a few percent while another isolate of the same case may
 * run 10-30% faster or slower. So the group is measured `plan.replicas` times, each time in new
 * processes, and the samples of all replicas are pooled.
 *
 * Within a replica, cases are interleaved: every round runs each case once, forward on even
 * rounds and backward on odd ones (ABC CBA ...), so drift and noisy neighbours hit all cases
 * alike, and ratios are taken per round. There is no forced GC: on Node 20 a full `gc()`
 * shrinks the young generation and the next pass runs several times slower while it grows back.
 */
export async function measure(bundle: URL, refs: readonly CaseRef[], input: unknown, plan: Plan): Promise<Measured[]> {
  const phases = { startup: 0, warmup: 0, timed: 0 };
  const wall = refs.map(() => [] as number[]);
  const cpu = refs.map(() => [] as number[]);
  const passes = refs.map(() => 0);
  const replicaRounds: number[] = [];
  const budgetMs = plan.budgetMs / plan.replicas;
  for (let replica = 0; replica < plan.replicas; replica++) {
    const started = performance.now();
    const workers = refs.map((ref) => new CaseRunner(bundle, ref, plan.isolation));
    try {
      await Promise.all(workers.map((w) => w.load(input)));
      const warmStart = performance.now();
      // Warm-up, interleaved like the rounds, until every case has run `warmupPasses` passes
      // and `warmupMs` ms: each fresh isolate has to reach optimized code and steady heap sizes
      // (stream cases kept speeding up for a second or more after a shorter warm-up). Workers
      // warm up one at a time: a warm-up shared with six others gets a fraction of the cores.
      // The fastest recent pass of each case sets its passes per sample.
      const recent = workers.map(() => [] as number[]);
      const warmed = workers.map(() => ({ passes: 0, ms: 0 }));
      while (warmed.some((w) => w.passes < plan.warmupPasses || w.ms < plan.warmupMs)) {
        for (let i = 0; i < workers.length; i++) {
          const w = warmed[i]!;
          if (w.passes >= plan.warmupPasses && w.ms >= plan.warmupMs) continue;
          const t = (await workers[i]!.run(1)).wall;
          w.passes++;
          w.ms += t;
          recent[i]!.push(t);
          if (recent[i]!.length > 3) recent[i]!.shift();
        }
      }
      for (let i = 0; i < refs.length; i++) {
        passes[i] = Math.max(1, Math.round(plan.sampleMs / Math.max(Math.min(...recent[i]!), 1e-3)));
      }

      const timedStart = performance.now();
      for (let round = 0; round < plan.maxRounds; round++) {
        if (round % 2 === 0 && round >= plan.minRounds && performance.now() - timedStart >= budgetMs) break;
        for (let j = 0; j < workers.length; j++) {
          const i = round % 2 === 0 ? j : workers.length - 1 - j;
          const t = await workers[i]!.run(passes[i]!);
          wall[i]!.push(t.wall);
          cpu[i]!.push(t.cpu);
        }
      }
      replicaRounds.push(wall[0]!.length - replicaRounds.reduce((a, b) => a + b, 0));
      phases.startup += warmStart - started;
      phases.warmup += timedStart - warmStart;
      phases.timed += performance.now() - timedStart;
    } finally {
      await Promise.all(workers.map((w) => w.terminate()));
    }
  }
  return refs.map((ref, i) => ({
    name: ref.name,
    phases,
    replicas: plan.replicas,
    replicaRounds,
    passes: passes[i]!,
    perPass: plan.clock === "cpu" ? cpu[i]! : wall[i]!,
    wall: wall[i]!,
    cpu: cpu[i]!,
  }));
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

const median = (values: readonly number[]): number => quantile(values, 0.5);

/** How many times faster `ours` is than `baseline`: per-round time ratios, then their median and quartiles. */
function speedup(ours: Measured, baseline: Measured): { median: number; q1: number; q3: number } {
  const ratios = ours.perPass.map((t, r) => baseline.perPass[r]! / t);
  return { median: median(ratios), q1: quantile(ratios, 0.25), q3: quantile(ratios, 0.75) };
}

/** How contended the machine was: wall time over CPU time across every sample (1.0 = we always had a core). */
export function busyLine(measured: readonly Measured[]): string {
  const ratios = measured.flatMap((m) => m.wall.map((w, i) => w / m.cpu[i]!));
  return (
    `machine: wall/cpu time per sample median ${median(ratios).toFixed(2)} (p90 ${quantile(ratios, 0.9).toFixed(2)}); ` +
    `above ~1.1 other processes held our cores part of the time, which --clock cpu leaves out`
  );
}

// ---------------------------------------------------------------------------------------------
// Output

/** Renders rows as an aligned text table; columns whose header starts with a space are right-aligned. */
function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const right = headers.map((h) => h.startsWith(" "));
  const names = headers.map((h) => h.trim());
  const widths = names.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, c) => (right[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  return [line(names), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

const fmt = {
  rate: (n: number): string => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)),
  count: (n: number): string =>
    n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : n.toFixed(0),
  ratio: (r: { median: number; q1: number; q3: number }): string =>
    `${r.median.toFixed(2)}x [${r.q1.toFixed(2)}-${r.q3.toFixed(2)}]`,
  bytes: (n: number): string => `${(n / 1e6).toFixed(2)} MB`,
};

/** The installed version of a dependency, read from its package.json in the project's node_modules. */
function installedVersion(name: string): string {
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** Prints the run's context: command, runtime, peers, machine, seed, corpora. */
export function printHeader(
  title: string,
  script: string,
  options: BenchOptions,
  corpora: readonly Corpus[],
  peers: readonly string[],
): Record<string, unknown> {
  const lifecycle = process.env.npm_lifecycle_event;
  const npm = lifecycle?.startsWith("bench") ? lifecycle : undefined;
  const scriptPath = process.argv[1] === undefined ? `scripts/${script}` : relative(process.cwd(), process.argv[1]);
  const versions = process.versions as NodeJS.ProcessVersions & { bun?: string; deno?: string };
  const runtime =
    versions.bun !== undefined
      ? { name: "bun", label: `Bun ${versions.bun}`, run: "bun" }
      : versions.deno !== undefined
        ? { name: "deno", label: `Deno ${versions.deno}`, run: "deno run -A" }
        : { name: "node", label: `Node ${process.version}`, run: "tsx" };
  const command = `${runtime.run} ${[scriptPath, ...process.argv.slice(2)].join(" ")}`;
  const cpu = cpus();
  const env = {
    command,
    npmScript: npm ?? null,
    runtime: runtime.label,
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    cpus: `${cpu.length} x ${cpu[0]?.model.trim() ?? "unknown"}`,
    peers: Object.fromEntries(peers.map((name) => [name, installedVersion(name)])),
    seed: options.seed,
    quick: options.quick,
    seconds: options.seconds,
    date: new Date().toISOString(),
  };
  console.log(`# ${title}`);
  console.log(`command : ${command}${npm === undefined ? "" : `   (npm run ${npm})`}`);
  const engine = runtime.name === "bun" ? "JavaScriptCore" : `V8 ${process.versions.v8}`;
  console.log(`runtime : ${runtime.label} (${engine}), ${env.platform}, ${env.cpus}`);
  console.log(
    `peers   : ${Object.entries(env.peers)
      .map(([name, version]) => `${name} ${version}`)
      .join(", ")}`,
  );
  console.log(
    `seed    : ${options.seed} (0x${options.seed.toString(16)})   timed budget: ${options.seconds} s${options.quick ? " (--quick)" : ""}`,
  );
  console.log(
    `clock   : ${options.clock === "cpu" ? "CPU time of the process (user+system) per pass" : "wall time per pass"}`,
  );
  console.log(
    `rounds  : interleaved (ABC CBA ...); ms/pass and MB/s are medians, ratios the median [quartiles] of per-round ratios`,
  );
  console.log(
    options.isolation === "process"
      ? `cases   : each case of each group runs in a fresh child process (its own heap, JIT state and CPU clock)`
      : `cases   : each case of each group runs in a fresh worker thread (its own isolate; the CPU clock is the process's)`,
  );
  console.log("");
  console.log(
    table(
      ["corpus", " bytes", " non-ASCII", " messages", " events", "content"],
      corpora.map((c) => [
        c.name,
        String(c.bytes.length),
        `${(c.nonAscii * 100).toFixed(1)}%`,
        String(c.messages.length),
        String(c.expected.length),
        c.description,
      ]),
    ),
  );
  console.log("");
  return env;
}

/** One line of a results table (and of the JSON report). */
export type ResultRow = {
  /** Which group: { corpus } or { corpus, chunks }. */
  group: Record<string, string>;
  case: string;
  /** Median ms per pass on the chosen clock; both clocks follow. */
  msPerPass: number;
  wallMsPerPass: number;
  cpuMsPerPass: number;
  mbPerSec: number;
  eventsPerSec: number;
  rounds: number;
  replicaRounds: number[];
  passesPerSample: number;
  /** Per-pass samples (chosen clock), round by round, replica after replica. */
  samples: number[];
  baseline?: string;
  ratio?: { median: number; q1: number; q3: number };
  target?: number;
  pass?: boolean;
};

/** A row for `m`; a pass handles `bytes` bytes (MB = 10^6 bytes) and `events` events. */
export function resultRow(group: Record<string, string>, m: Measured, bytes: number, events: number): ResultRow {
  const ms = median(m.perPass);
  return {
    group,
    case: m.name,
    msPerPass: ms,
    wallMsPerPass: median(m.wall),
    cpuMsPerPass: median(m.cpu),
    mbPerSec: bytes / 1e6 / (ms / 1000),
    eventsPerSec: events / (ms / 1000),
    rounds: m.perPass.length,
    replicaRounds: m.replicaRounds,
    passesPerSample: m.passes,
    samples: m.perPass.map((ms) => Math.round(ms * 1000) / 1000),
  };
}

/** Compares `row` with `baseline` (per-round ratios) and judges it against `target` when given. */
export function judge(row: ResultRow, m: Measured, baseline: Measured, target: number | undefined): void {
  row.baseline = baseline.name;
  row.ratio = speedup(m, baseline);
  if (target !== undefined) {
    row.target = target;
    row.pass = row.ratio.median >= target;
  }
}

export function renderResults(rows: readonly ResultRow[], groupKeys: readonly string[]): string {
  return table(
    [...groupKeys, "case", " MB/s", " events/s", " ms/pass", "vs", " ratio [q1-q3]", " target", "verdict"],
    rows.map((r) => [
      ...groupKeys.map((k) => r.group[k] ?? ""),
      r.case,
      fmt.rate(r.mbPerSec),
      fmt.count(r.eventsPerSec),
      r.msPerPass.toFixed(2),
      r.baseline ?? "",
      r.ratio === undefined ? "" : fmt.ratio(r.ratio),
      r.target === undefined ? "" : `>=${r.target.toFixed(1)}x`,
      r.pass === undefined ? "" : r.pass ? "PASS" : "MISS",
    ]),
  );
}

/** The PASS/MISS tally and one line per MISS. */
export function targetSummary(rows: readonly ResultRow[]): string {
  const judged = rows.filter((r) => r.pass !== undefined);
  const missed = judged.filter((r) => !r.pass);
  const lines = [
    `targets: ${judged.length - missed.length}/${judged.length} PASS${missed.length > 0 ? `, ${missed.length} MISS:` : ""}`,
  ];
  for (const r of missed) {
    lines.push(
      `  MISS ${Object.values(r.group).join(" / ")} / ${r.case}: ${fmt.ratio(r.ratio!)} vs ${r.baseline}, target ${r.target}x`,
    );
  }
  return lines.join("\n");
}

/** The group heading: its name, size, rounds and where its time went. */
export function groupHeading(title: string, measured: readonly Measured[]): string {
  const m = measured[0]!;
  const { phases } = m;
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const rounds =
    m.replicas === 1
      ? `${m.perPass.length} rounds`
      : `${m.replicas} replicas (fresh cases), ${m.perPass.length} rounds in all`;
  return `${title}: ${rounds} (start-up ${sec(phases.startup)}, warm-up ${sec(phases.warmup)}, timed ${sec(phases.timed)})`;
}

export const indent = (text: string): string => text.replace(/^/gm, "  ");

export function writeJson(path: string | undefined, report: unknown): void {
  if (path === undefined) return;
  writeFileSync(path, JSON.stringify(report, null, 2) + "\n");
  console.log(`\nwrote ${path}`);
}

/** The per-group share of the budget; quick runs use fewer, shorter rounds. */
export function planFor(options: BenchOptions, groups: number): Plan {
  const budgetMs = (options.seconds * 1000) / groups;
  const { clock, isolation } = options;
  return options.quick
    ? {
        replicas: options.replicas ?? 1,
        budgetMs,
        clock,
        isolation,
        warmupMs: 30,
        warmupPasses: 1,
        sampleMs: 8,
        minRounds: 2,
        maxRounds: 12,
      }
    : {
        replicas: options.replicas ?? 1,
        budgetMs,
        clock,
        isolation,
        warmupMs: 300,
        warmupPasses: 2,
        sampleMs: 30,
        minRounds: 6,
        maxRounds: 60,
      };
}

/**
 * A benchmark script's entry: on the main thread runs `main` (a correctness mismatch exits 1 with
 * a clear line), in a worker serves the case the main thread asked for.
 */
export function runBenchmark<K extends string, I>(
  main: () => Promise<void>,
  make: (key: K, input: I) => Case<any>,
): void {
  if (!isMainThread) return serveCaseInWorker(make);
  const key = process.env[CASE_ENV];
  if (key !== undefined) return serveOverStdio(caseHandler(key as K, make));
  main().catch((error: unknown) => {
    if (error instanceof CorrectnessError) console.error(`CORRECTNESS MISMATCH during timing: ${error.message}`);
    else console.error(error);
    process.exit(1);
  });
}

/** The closing `time:` line: total, corpus building, correctness checks and measurement. */
export function timingLine(began: number, setupDone: number, checkDone: number): string {
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `time: ${sec(performance.now() - began)} (corpora ${sec(setupDone - began)}, correctness ${sec(checkDone - setupDone)}, ` +
    `measurement ${sec(performance.now() - checkDone)})`
  );
}
