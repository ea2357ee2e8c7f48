/**
 * Shared fast-check arbitraries: event messages full of awkward text, SSE-looking byte streams,
 * and ways to cut bytes into chunks. Used by test/properties.test.ts and scripts/fuzz-framing.ts.
 *
 * @module
 */
import fc from "fast-check";
import type { EventMessage } from "../core/mod.ts";

/** The fixed seed of the property tests; `FC_SEED=<n>` replays another one. */
export const PROPERTY_SEED: number = process.env.FC_SEED === undefined ? 0x5eed_ed : Number(process.env.FC_SEED);

// ---------------------------------------------------------------------------------------------
// Text

/** Single code units and short strings that stress the framing. */
const awkward = fc.constantFrom(
  "\r",
  "\n",
  "\r\n",
  "\n\r",
  "\r\r",
  "\n\n", // every line end, and blank lines
  " ",
  "  ",
  ":",
  ": ",
  "\t",
  "\0",
  "\u000b",
  "\u000c",
  "\u007f",
  "\u0085",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\ufffd",
  "\uffff",
  "data: x",
  "data:",
  "event: y",
  "id: 1",
  "retry: 5",
  ":comment",
  "data",
  "id", // field-looking text
  "é",
  "€",
  "😀",
  "\u{10ffff}", // 2-, 3- and 4-byte UTF-8
);

/** One lone surrogate (two in a row may happen to pair up, which is fine). */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit));

/** A C0 control character. */
const control = fc.integer({ min: 0, max: 0x1f }).map((unit) => String.fromCharCode(unit));

/** One unit of generated text: any code point (astral included), controls, surrogates, awkward strings. */
const textUnit: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }), weight: 3 },
  { arbitrary: awkward, weight: 4 },
  { arbitrary: control, weight: 1 },
  { arbitrary: loneSurrogate, weight: 1 },
);

/** Arbitrary text, possibly empty, possibly multi-line. */
const text: fc.Arbitrary<string> = fc.string({ unit: textUnit, maxLength: 24 });

/** Text with no CR or LF: what `event` accepts. */
const singleLine: fc.Arbitrary<string> = text.map((value) => value.replace(/[\r\n]/g, ""));

/** Text with no CR, LF or NUL: what `id` accepts. */
const validId: fc.Arbitrary<string> = text.map((value) => value.replace(/[\r\n\0]/g, ""));

/** Any message `encodeEvent` accepts. */
export const eventMessage: fc.Arbitrary<EventMessage> = fc.record(
  {
    data: text,
    event: singleLine,
    id: validId,
    retry: fc.oneof(fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER), fc.nat()),
    comment: text,
  },
  { requiredKeys: [] },
);

/** A sequence of messages, as a stream would carry them. */
export const eventMessages: fc.Arbitrary<EventMessage[]> = fc.array(eventMessage, { maxLength: 8 });

// ---------------------------------------------------------------------------------------------
// Bytes

const utf8 = new TextEncoder();
const ascii = (value: string): Uint8Array => utf8.encode(value);

/**
 * Invalid UTF-8: stray continuations, overlongs, truncated sequences (each a "maximal subpart"
 * that WHATWG's UTF-8 decode turns into one U+FFFD), encoded surrogates, > U+10FFFF, bytes that
 * are never valid.
 */
const invalidBytes: fc.Arbitrary<Uint8Array> = fc
  .constantFrom(
    [0x80],
    [0xbf],
    [0xc0, 0x80],
    [0xc1, 0xbf],
    [0xc2],
    [0xe2, 0x82],
    [0xe0, 0x80],
    [0xe0, 0x80, 0x80],
    [0xed, 0xa0, 0x80],
    [0xf0, 0x9f, 0x98],
    [0xf0, 0x80, 0x80],
    [0xf4, 0x90, 0x80, 0x80],
    [0xf5],
    [0xf8, 0x88, 0x80, 0x80, 0x80],
    [0xfe],
    [0xff],
  )
  .map((b) => Uint8Array.from(b));

/** Byte fragments an SSE stream (or a broken one) is made of. */
const fragment: fc.Arbitrary<Uint8Array> = fc.oneof(
  // Field names, exact and nearly so, and the framing characters.
  { weight: 8, arbitrary: fc.constantFrom("data", "event", "id", "retry", "Data", "ID", "dat", "x").map(ascii) },
  { weight: 10, arbitrary: fc.constantFrom(":", " ", "\r", "\n", "\r\n", "\n\n", "\r\r").map(ascii) },
  { weight: 4, arbitrary: fc.constantFrom("0", "42", "007", "1e3", "-1", " 5").map(ascii) },
  // BOM (whole and partial), NUL, multi-byte characters.
  {
    weight: 2,
    arbitrary: fc.constantFrom([0xef, 0xbb, 0xbf], [0xef, 0xbb], [0xbb, 0xbf], [0x00]).map((b) => Uint8Array.from(b)),
  },
  { weight: 3, arbitrary: fc.constantFrom("é", "€", "😀", "\u2028", "\ufeff").map(ascii) },
  { weight: 3, arbitrary: invalidBytes },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) },
);

/** One whole field line: a (near-)field name, a colon with 0-2 spaces, a value and a line end. */
const fieldLine: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom("data", "data", "event", "id", "retry", "", "Data", "x"),
    fc.constantFrom(":", ": ", ":  ", ""),
    fc.array(fragment, { maxLength: 3 }),
    fc.constantFrom("\n", "\r", "\r\n", "\n\n", "\r\n\r\n", "\r\r"),
  )
  .map(([name, colon, value, end]) => concat([ascii(name + colon), ...value, ascii(end)]));

/** A byte stream biased toward SSE-looking text: whole field lines mixed with loose fragments. */
export const sseBytes: fc.Arbitrary<Uint8Array> = fc
  .array(fc.oneof({ arbitrary: fieldLine, weight: 2 }, { arbitrary: fragment, weight: 3 }), { maxLength: 30 })
  .map(concat);

/**
 * Non-ASCII text of every UTF-8 width (2, 3 and 4 bytes), and sequences of several code points
 * that text carries whole: regional-indicator flags, skin tones, ZWJ families, VS16, combining
 * marks; and U+FFFD and U+FEFF as content.
 */
const intlText = fc.constantFrom(
  "é",
  "ß",
  "Ω",
  "€",
  "한",
  "국어",
  "漢字",
  "…",
  "😀",
  "👍🏽",
  "🇫🇷",
  "🇰🇷",
  "👨‍👩‍👧",
  "🏳️‍🌈",
  "❤️",
  "e\u0301",
  "\u{10ffff}",
  "\ufffd",
  "\ufeff",
);

/** A run of mostly non-ASCII text: a chunk boundary in it falls inside a character most of the time. */
const intlRun: fc.Arbitrary<Uint8Array> = fc
  .array(fc.oneof({ weight: 6, arbitrary: intlText }, { weight: 1, arbitrary: fc.constantFrom(" ", "a", ":", "0") }), {
    minLength: 1,
    maxLength: 40,
  })
  .map((parts) => ascii(parts.join("")));

/** A field line whose value is mostly non-ASCII text, with invalid bytes now and then. */
const intlLine: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.constantFrom("data", "data", "data", "event", "id", ""),
    fc.constantFrom(":", ": "),
    fc.array(fc.oneof({ weight: 5, arbitrary: intlRun }, { weight: 1, arbitrary: invalidBytes }), { maxLength: 4 }),
    fc.constantFrom("\n", "\r", "\r\n", "\n\n", "\r\n\r\n"),
  )
  .map(([name, colon, value, end]) => concat([ascii(name + colon), ...value, ascii(end)]));

/**
 * A byte stream of mostly non-ASCII field lines (accents, CJK, Hangul, emoji, flags, ZWJ
 * sequences), invalid bytes and the SSE fragments above: for decoding split at every point.
 */
export const intlBytes: fc.Arbitrary<Uint8Array> = fc
  .array(fc.oneof({ arbitrary: intlLine, weight: 3 }, { arbitrary: fragment, weight: 1 }), { maxLength: 12 })
  .map(concat);

/** Any bytes at all, or SSE-looking ones. */
export const anyBytes: fc.Arbitrary<Uint8Array> = fc.oneof(sseBytes, fc.uint8Array({ maxLength: 64 }));

/**
 * Where to cut a byte stream: raw numbers reduced modulo (length + 1) by {@link splitAt}.
 * Repeats give empty chunks, which a parser must also survive.
 */
export const cuts: fc.Arbitrary<number[]> = fc.array(fc.nat(), { maxLength: 12 });

/**
 * Cuts `bytes` (or a string, or an array of characters) at the given points (each taken modulo
 * its length + 1), empty chunks kept.
 */
export function splitAt<T extends Uint8Array | string | readonly string[]>(bytes: T, points: readonly number[]): T[] {
  const positions = points.map((point) => point % (bytes.length + 1)).sort((a, b) => a - b);
  const chunks: T[] = [];
  let from = 0;
  for (const at of positions) {
    chunks.push(bytes.slice(from, at) as T);
    from = at;
  }
  chunks.push(bytes.slice(from) as T);
  return chunks;
}

/** Cuts `bytes` into chunks of `size` bytes (the last may be shorter). */
export function chunksOf(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let from = 0; from < bytes.length; from += size) chunks.push(bytes.slice(from, from + size));
  return chunks;
}

/** Joins byte chunks into one array. */
export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}
