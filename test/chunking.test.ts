/**
 * Chunk boundaries: the events must not depend on where the transport cut the bytes. Every
 * expectation is written out by hand; each fixture is fed whole, in 1-, 2-, 3- and 4-byte chunks,
 * and split at every single position (and, for short fixtures, at every pair of positions).
 */
import { expect, test } from "vitest";
import { createParser, EventStreamSizeError, type ServerSentEvent } from "../core/mod.ts";
import { chunksOf, concat } from "./_arbitraries.ts";
import { message, runIterate, runPush, runStream, type Observed } from "./_harness.ts";
import { specParse } from "./_spec-parser.ts";

const utf8 = new TextEncoder();
const bytesOf = (...parts: (string | number[])[]): Uint8Array =>
  concat(parts.map((part) => (typeof part === "string" ? utf8.encode(part) : Uint8Array.from(part))));

/** Every way of cutting `bytes` this file tries, each with a label for failure messages. */
function chunkings(bytes: Uint8Array): [string, Uint8Array[]][] {
  const ways: [string, Uint8Array[]][] = [["whole", [bytes]]];
  for (const size of [1, 2, 3, 4]) ways.push([`${size}-byte chunks`, chunksOf(bytes, size)]);
  for (let i = 0; i <= bytes.length; i++) {
    ways.push([`split at ${i}`, [bytes.slice(0, i), bytes.slice(i)]]);
    if (bytes.length <= 24) {
      for (let j = i; j <= bytes.length; j++) {
        ways.push([`split at ${i} and ${j}`, [bytes.slice(0, i), bytes.slice(i, j), bytes.slice(j)]]);
      }
    }
  }
  return ways;
}

/**
 * Checks that every chunking gives `expected` events (and, when given, retries and comments), with
 * `createParser`; 1-byte chunks also go through `EventStreamParser` and `parseEventStream`, and
 * the whole stream through the spec transcription.
 */
async function expectChunkingInvariant(
  bytes: Uint8Array,
  expected: Partial<Observed> & { events: ServerSentEvent[] },
): Promise<void> {
  const check = (label: string, seen: Observed): void => {
    for (const key of Object.keys(expected) as (keyof Observed)[]) {
      expect(seen[key], `${label}: ${key}`).toEqual(expected[key]);
    }
  };
  check("spec transcription", specParse(bytes));
  for (const [label, chunks] of chunkings(bytes)) check(`createParser, ${label}`, runPush(chunks));
  const ones = chunksOf(bytes, 1);
  check("EventStreamParser, 1-byte chunks", await runStream(ones));
  check("parseEventStream, 1-byte chunks", await runIterate(ones));
}

test("createParser gives the same events for 1-, 2-, 3- and 4-byte chunks", async () => {
  const bytes = bytesOf(
    "\ufeff: hi\nretry: 10\nid: 1\nevent: a\ndata: x\ndata:  y\n\n",
    "data: é€😀\r\n\r\n",
    "event: b\rdata\r\r",
    "id\ndata: z\n\n",
  );
  await expectChunkingInvariant(bytes, {
    events: [
      { type: "a", data: "x\n y", lastEventId: "1" },
      message("é€😀", "1"),
      { type: "b", data: "", lastEventId: "1" },
      message("z", ""),
    ],
    retries: [10],
    comments: ["hi"],
  });
});

test("createParser keeps a CRLF split across chunks as one line end", async () => {
  // Were the LF after a chunk-ending CR taken as its own line end, "a" and "b" would be two events.
  await expectChunkingInvariant(bytesOf("data: a\r\ndata: b\r\n\r\ndata: c\r\n\r\n"), {
    events: [message("a\nb"), message("c")],
  });
  expect(runPush(["data: a\r", "\ndata: b\r", "\n\r", "\n"]).events).toEqual([message("a\nb")]);
});

test("createParser keeps a CRLF whole across an empty chunk between CR and LF", () => {
  const parts: (string | Uint8Array)[][] = [
    ["data: a\r", "", "\ndata: b\n\n"],
    [bytesOf("data: a\r"), new Uint8Array(0), bytesOf("\ndata: b\n\n")],
  ];
  for (const chunks of parts) expect(runPush(chunks).events).toEqual([message("a\nb")]);
});

test("createParser treats a CR that ends one chunk and a CR that starts the next as two line ends", async () => {
  await expectChunkingInvariant(bytesOf("data: a\r\rdata: b\r\r"), { events: [message("a"), message("b")] });
});

test("createParser treats a CR that is the last byte of the stream as a line end", async () => {
  await expectChunkingInvariant(bytesOf("data: a\n\r"), { events: [message("a")] });
  await expectChunkingInvariant(bytesOf("retry: 5\r"), { events: [], retries: [5] });
  const events: ServerSentEvent[] = [];
  const parser = createParser({ onEvent: (e) => events.push(e) });
  parser.feed("data: a\r");
  expect(events).toEqual([]);
  parser.feed("\r");
  // Dispatched at once: the parser does not wait to see whether a LF follows.
  expect(events).toEqual([message("a")]);
  parser.end();
  expect(events).toEqual([message("a")]);
});

test("createParser strips a BOM whose bytes are split across reads", async () => {
  await expectChunkingInvariant(bytesOf([0xef, 0xbb, 0xbf], "data: a\n\n"), { events: [message("a")] });
  for (const chunks of [
    [[0xef], [0xbb], [0xbf, 0x0a]],
    [[0xef, 0xbb], [0xbf], [0x0a]],
    [[0xef], [0xbb, 0xbf], [0x0a]],
    [[0xef], [], [0xbb], [], [0xbf], [], [0x0a]],
  ]) {
    const parts = chunks.map((bytes) => Uint8Array.from(bytes));
    // After the BOM, "data: a\n\n" must parse as a field line; a kept BOM would hide the field name.
    expect(runPush([...parts, bytesOf("data: a\n\n")]).events, JSON.stringify(chunks)).toEqual([message("a")]);
  }
});

test("createParser strips a BOM that follows an empty read", async () => {
  expect(runPush([new Uint8Array(0), bytesOf("\ufeffdata: a\n\n")]).events).toEqual([message("a")]);
  expect(
    runPush([new Uint8Array(0), new Uint8Array(0), bytesOf([0xef]), bytesOf([0xbb, 0xbf], "data: a\n\n")]).events,
  ).toEqual([message("a")]);
  expect(runPush(["", "\ufeffdata: a\n\n"]).events).toEqual([message("a")]);
  const chunks = [new Uint8Array(0), bytesOf([0xef, 0xbb]), new Uint8Array(0), bytesOf([0xbf], "data: a\n\n")];
  expect((await runStream(chunks)).events).toEqual([message("a")]);
  expect((await runIterate(chunks)).events).toEqual([message("a")]);
});

test("createParser keeps a second BOM whatever the chunking", async () => {
  // The second BOM becomes part of the field name "\ufeffdata", an unknown field.
  await expectChunkingInvariant(bytesOf("\ufeff\ufeffdata: a\n\ndata: b\n\n"), { events: [message("b")] });
});

test("createParser decodes a truncated BOM as U+FFFD whatever the chunking", async () => {
  await expectChunkingInvariant(bytesOf([0xef, 0xbb], "data: a\n\ndata: \ufeff\n\n"), {
    events: [message("\ufeff")],
  });
  expect(specParse(bytesOf([0xef, 0xbb], ":x\n")).comments).toEqual([]);
  expect(runPush([bytesOf([0xef, 0xbb], "data\n\n")]).events).toEqual([]);
  expect(runPush([bytesOf([0xef, 0xbb]), bytesOf("\ndata: \n\n")]).events).toEqual([message("")]);
  expect(runPush([bytesOf([0xef, 0xbb], ":\n")]).comments).toEqual([]);
});

test("createParser decodes 2-, 3- and 4-byte UTF-8 characters split at every point", async () => {
  for (const character of ["é", "ß", "€", "한", "\ufffd", "😀", "\u{10ffff}"]) {
    const bytes = bytesOf(`data: ${character}${character}\n\n`);
    await expectChunkingInvariant(bytes, { events: [message(character + character)] });
  }
});

test("createParser decodes multi-byte characters next to line ends whatever the chunking", async () => {
  await expectChunkingInvariant(bytesOf("data:😀\r\n:€\rid:é\r\n\r"), {
    events: [message("😀", "é")],
    comments: ["€"],
  });
});

test("createParser replaces invalid bytes with U+FFFD identically whatever the chunking", async () => {
  const cases: [number[], string][] = [
    [[0x80], "\ufffd"], // a lone continuation byte
    [[0xc3], "\ufffd"], // a truncated 2-byte sequence
    [[0xe2, 0x82], "\ufffd"], // a truncated 3-byte sequence: one U+FFFD for the maximal subpart
    [[0xf0, 0x9f, 0x98], "\ufffd"], // a truncated 4-byte sequence
    [[0xc0, 0x80], "\ufffd\ufffd"], // an overlong NUL
    [[0xe0, 0x80, 0x80], "\ufffd\ufffd\ufffd"], // an overlong 3-byte sequence
    [[0xed, 0xa0, 0x80], "\ufffd\ufffd\ufffd"], // an encoded surrogate
    [[0xf4, 0x90, 0x80, 0x80], "\ufffd\ufffd\ufffd\ufffd"], // above U+10FFFF
    [[0xff, 0xfe], "\ufffd\ufffd"],
    [[0xe2, 0x82, 0x41], "\ufffdA"], // a truncated sequence followed by ASCII
    [[0xf0, 0x9f, 0x98, 0x80, 0x80], "😀\ufffd"], // a valid character then a stray continuation
  ];
  for (const [invalid, decoded] of cases) {
    await expectChunkingInvariant(bytesOf("data: <", invalid, ">\n\n"), { events: [message(`<${decoded}>`)] });
  }
});

test("createParser replaces a truncated sequence at the end of a line with U+FFFD before the line end", async () => {
  await expectChunkingInvariant(bytesOf("data: a", [0xe2, 0x82], "\ndata: b", [0xf0], "\r\n\r\n"), {
    events: [message("a\ufffd\nb\ufffd")],
  });
});

test("createParser flushes bytes held by the decoder as U+FFFD when a text chunk follows", () => {
  expect(runPush([bytesOf("data: a", [0xe2, 0x82]), "b\n\n"]).events).toEqual([message("a\ufffdb")]);
});

test("createParser discards a truncated sequence at the end of the stream with the unterminated line", () => {
  const events = runPush([bytesOf("data: a\n\ndata: b", [0xe2])]).events;
  expect(events).toEqual([message("a")]);
});

test("createParser decodes flags, skin tones, ZWJ sequences and Hangul split at every point", async () => {
  for (const text of ["🇰🇷🇫🇷", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "❤️", "한국어", "e\u0301"]) {
    await expectChunkingInvariant(bytesOf(`data:${text}\n\n`), { events: [message(text)] });
  }
});

test("createParser decodes ASCII and non-ASCII lines alike, whichever decoder a chunk gets", () => {
  // Lines alternate between ASCII and non-ASCII, long and short, so that chunks of every size
  // meet both decoders and every change between them; the reference is the spec transcription.
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) {
    const ascii = `data: ${"ascii ".repeat(i % 7 === 0 ? 80 : 3)}${i}`;
    const intl = `data: ${"한국어 😀 🇫🇷 é ".repeat(i % 5 === 0 ? 40 : 1)}${i}`;
    lines.push(i % 3 === 0 ? intl : ascii, i % 4 === 0 ? "" : `id: ${i % 2 === 0 ? "€" : "e"}${i}`);
  }
  const bytes = concat([utf8.encode(`${lines.join("\n")}\n\n`), Uint8Array.from([0xe2, 0x82]), utf8.encode("\n\n")]);
  const spec = specParse(bytes);
  expect(spec.events.length).toBeGreaterThan(10);
  for (const size of [1, 2, 3, 5, 7, 64, 255, 256, 257, 1000, 4096, 16_384]) {
    expect(runPush(chunksOf(bytes, size)), `${size}-byte chunks`).toEqual(spec);
  }
});

test("createParser keeps a line that starts inside a small chunk while its bytes outgrow their buffer", () => {
  // A small chunk is kept whole and its line's bytes start where the line does, past the end of
  // the line before it; growing the buffer must move just those bytes, and the next chunk must
  // land after them. The long line is non-ASCII (kept as bytes) and ends in a later chunk.
  const long = `data: ${"한국어 😀 é ".repeat(120)}`;
  const bytes = bytesOf(`data: short\n\n${long}\n\nid: 7\ndata: ${"€".repeat(90)}\n\n`);
  const spec = specParse(bytes);
  expect(spec.events).toHaveLength(3);
  for (const first of [9, 14, 20, 100, 255]) {
    for (const size of [1, 7, 64, 65, 150, 256]) {
      const chunks = [bytes.slice(0, first), ...chunksOf(bytes.slice(first), size)];
      expect(runPush(chunks), `${first} bytes, then ${size}-byte chunks`).toEqual(spec);
    }
  }
});

test("createParser decodes a line longer than its byte buffer, characters split anywhere", () => {
  // Over 64 KiB without a line end: the line goes on as text, decoded chunk by chunk.
  const line = "data: " + "a漢字😀é한국어🇰🇷 ".repeat(4000);
  const bytes = concat([utf8.encode(`${line}\n${line}\r\n\r\n`), Uint8Array.from([0xf0, 0x9f]), utf8.encode("\n")]);
  expect(bytes.length).toBeGreaterThan(2 * 65_536);
  const spec = specParse(bytes);
  expect(spec.events).toHaveLength(1);
  for (const size of [997, 4096, 16_383, 65_537, 200_000]) {
    expect(runPush(chunksOf(bytes, size)), `${size}-byte chunks`).toEqual(spec);
  }
});

test("createParser bounds a pending line by its text, not its bytes, whatever the chunking", async () => {
  // A line of 31 characters in 83 bytes: within maxEventSize 32 as text, over it as bytes.
  const text = "한".repeat(26);
  const bytes = bytesOf(`data:${text}\n\n`);
  for (const [label, chunks] of chunkings(bytes)) {
    expect(runPush(chunks, { maxEventSize: 32 }).events, label).toEqual([message(text)]);
  }
  expect((await runStream(chunksOf(bytes, 1), { maxEventSize: 32 })).events).toEqual([message(text)]);
  expect(() => runPush(chunksOf(bytesOf(`data:${"한".repeat(40)}`), 7), { maxEventSize: 32 })).toThrow(
    EventStreamSizeError,
  );
});

test("createParser copies what it keeps of a chunk: the caller may reuse its buffer", () => {
  const bytes = bytesOf("data: 한국어 a long line that spans chunks\n\n", "data: ", [0xe2, 0x82], "b\n\n");
  const spec = specParse(bytes);
  for (const size of [1, 3, 8, 20]) {
    const seen = runPush(
      (function* () {
        const buffer = new Uint8Array(size);
        for (let from = 0; from < bytes.length; from += size) {
          const chunk = bytes.subarray(from, from + size);
          buffer.set(chunk);
          yield buffer.subarray(0, chunk.length);
          buffer.fill(0x41); // what a reader reusing its buffer would leave behind
        }
      })(),
    );
    expect(seen, `${size}-byte chunks in one reused buffer`).toEqual(spec);
  }
});
