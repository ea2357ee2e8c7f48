/**
 * Bytes to lines: UTF-8 decoding, the one leading BOM, and CRLF / LF / CR line ends that may fall
 * anywhere across chunk boundaries. Lines are handed on as ranges of the decoded text, so no line
 * string is built unless a line spans chunks.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 * @see https://encoding.spec.whatwg.org/#utf-8-decode
 * @module
 */
import { EventStreamSizeError } from "./errors.ts";
import { DecoderRace } from "./_decoder-race.ts";
import type { FieldSink } from "./_interpret.ts";
import { parseLine } from "./_parse-line.ts";

const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;
const EMPTY = new Uint8Array(0);

/** Reused options object: a streaming decode allocates nothing per call. */
const STREAM = { stream: true } as const;

/**
 * A line that already spans chunks and holds this many characters is likely to span more: its
 * next chunks are kept as bytes until one ends it. (Short lines, the most common, are decoded
 * with their chunk, which costs less than keeping their bytes.)
 */
const LONG_LINE = 64;

/**
 * A chunk this large is decoded at once, not line by line: one decoder call for many lines, and
 * no copy of its bytes.
 */
const LARGE_CHUNK = 4096;

/** Segments up to this many bytes go to the one-shot decoder whatever they hold. */
const SMALL_SEGMENT = 128;

/** ASCII segments in a row that take decoding back to the one-shot decoder. */
const ASCII_RUN = 4;
/** The same for short segments (`SMALL_SEGMENT`), which are more often ASCII by chance. */
const ASCII_RUN_SMALL = 32;

/** Chunks up to this many bytes are copied whole into the kept bytes (see `#append`). */
const WHOLE_COPY = 256;

/** The most bytes of one unterminated line kept as bytes; a longer line goes on as text. */
const BYTES_LIMIT = 64 * 1024;

/**
 * Non-ASCII segments this long go to `DecoderRace`, which learns from their timing which decoder
 * is the faster on this engine and this text. Every fourth is timed (and all during a try): the
 * two clock reads then cost about 1 % of such decodes.
 */
const RACED_SEGMENT = 2048;

/**
 * Internal: what the line layer asks of a decoder race (tests pass one that decides by itself).
 *
 * @example
 * ```ts
 * import type { Race } from "./_lines.ts";
 * const alwaysOneShot: Race = { oneShotNext: () => true, oneShotWins: true, trying: false, record() {} };
 * ```
 */
export type Race = Pick<DecoderRace, "oneShotNext" | "oneShotWins" | "record" | "trying">;

const SHARED_RACE = new DecoderRace();

/**
 * Internal: the line layer of `createParser`.
 *
 * @example
 * ```ts
 * import { EventInterpreter } from "./_interpret.ts";
 * import { LineSplitter } from "./_lines.ts";
 * const interpreter = new EventInterpreter((event) => console.log(event.data), undefined, undefined, 1024);
 * const lines = new LineSplitter(interpreter, 1024);
 * lines.push(new TextEncoder().encode("data: 안녕\n\n")); // logs 안녕
 * ```
 */
export class LineSplitter {
  // Decoding. HTML's event stream parsing decodes the stream with WHATWG Encoding's "UTF-8
  // decode": invalid bytes become U+FFFD, and one leading BOM is removed (by us, in #text: neither
  // decoder drops it, ignoreBOM). The bytes are decoded in segments, each by whichever decoder is
  // faster for it, and the text is exactly what one decoder fed the whole stream would give:
  //
  // - In "UTF-8 decode" any byte that is not a continuation byte (0x80-0xBF) leaves the same
  //   state whatever came before it: it starts afresh, after reporting a sequence it interrupts
  //   as one U+FFFD, just as the end of the input would report it. After a byte below 0x80 (CR
  //   and LF among them) the state is empty. So a sequence (a lead byte and at most 3
  //   continuation bytes) can only be unfinished at the end of some bytes if its lead is one of
  //   their last 3 (`unfinished`), and bytes that start with the state empty and end on a whole
  //   character decode on their own exactly as within the stream.
  // - `#oneShot` (never streaming) decodes such segments when they are ASCII or short: Node
  //   decodes ASCII several times faster that way (a decoder that has streamed once loses that
  //   path for good), and its call is the cheaper one for a few bytes.
  // - Longer non-ASCII segments go to whichever decoder has been the faster on this stream's
  //   text, learned by timing both (`#decodeRaced`): engines disagree. Node's one-shot decode of
  //   non-ASCII text takes about twice as long as its streaming one; Deno's takes half as long;
  //   on Bun they are close, except on dense non-ASCII text, where streaming wins. Either
  //   decoder gives the same text, so a wrong guess costs time, never correctness.
  // - A chunk is decoded at once if it ends on a whole character (its unterminated last line is
  //   then carried on as text, `#pending`). A large one that ends inside a character is decoded
  //   at once by `#streaming` (when that is the faster), which holds the character's start
  //   (`#held`) until the next chunk completes or interrupts it. Otherwise it is decoded up to
  //   its last line end (CR and LF are never part of a multi-byte sequence), and the rest waits
  //   as bytes (`#bytes`, copied) for the chunk that ends its line; so do the small chunks of
  //   non-ASCII text and of long lines (`LONG_LINE`), so that their lines are decoded in one call
  //   rather than one per chunk.
  // - A line too long for `#bytes` (`BYTES_LIMIT`, or `maxEventSize`) goes on as text, each
  //   chunk decoded by `#streaming`; `maxEventSize` bounds it as text.
  #oneShot: TextDecoder | undefined;
  #streaming: TextDecoder | undefined;
  #held = false; // whether #streaming may hold the start of a character
  #ascii = true; // the guess for the next segment: ASCII, for the one-shot decoder
  #asciiRun = 0; // ASCII segments in a row that the streaming decoder decoded
  // Which decoder long non-ASCII segments go to: what is faster is the engine's business, so one
  // race serves every parser of the program (a new stream does not learn it again).
  readonly #race: Race;
  #untimed = 0; // raced segments since the last timed one
  #bytes: Uint8Array = EMPTY; // the end of an unterminated line: #bytes[#byteStart, #byteLength)
  #byteStart = 0; // 0 whenever none are kept
  #byteLength = 0;
  #pending = ""; // the start of an unterminated line, as text (always before #bytes)
  #skipLF = false; // the last chunk ended in CR: a LF that starts the next one belongs to it
  #bomChecked = false;
  /** Where each line's fields go (the interpreter); swapped by `createParser` on reset. */
  sink: FieldSink;
  readonly #maxLine: number;

  constructor(sink: FieldSink, maxLine: number, race: Race = SHARED_RACE) {
    this.sink = sink;
    this.#maxLine = maxLine;
    this.#race = race;
  }

  /** Decodes and splits one chunk. */
  push(chunk: Uint8Array | string): void {
    if (typeof chunk === "string") {
      // Bytes of an unterminated line belong before this text; an unfinished character in them
      // ends here, as U+FFFD (as at the end of the input).
      if (this.#byteLength > 0 || this.#held) return this.#text(this.#flushBytes() + chunk);
      if (this.#pending === "") return this.#text(chunk);
      // More of a line already begun: the BOM is behind us and no CR waits for its LF (both come
      // only with a line end, which empties #pending). Most small chunks only lengthen the line.
      const lf = chunk.indexOf("\n");
      if (lf === -1 && chunk.indexOf("\r") === -1) return this.#carry(chunk, 0);
      return this.#split(chunk, lf);
    }
    const length = chunk.length;
    if (length === 0) return;
    if (this.#held) {
      // The streaming decoder holds the start of a character: it decodes this chunk too.
      const text = this.#streamingDecoder().decode(chunk, STREAM);
      this.#held = unfinished(chunk, length, true);
      return this.#text(text);
    }
    let part = chunk;
    if (this.#byteLength > 0 && length >= LARGE_CHUNK) {
      // A large chunk ends the kept line: decode the kept bytes with the rest of that line.
      let first = 0;
      while (first < length) {
        const byte = chunk[first]!;
        if (byte === LF || byte === CR) break;
        first++;
      }
      if (first === length) return this.#keep(chunk, 0);
      this.#append(chunk, 0, first + 1);
      this.#text(this.#decodeKept());
      if (first + 1 === length) return;
      part = chunk.subarray(first + 1);
    }
    const size = part.length;
    if (this.#byteLength === 0 && (size >= LARGE_CHUNK || (this.#ascii && this.#pending.length < LONG_LINE))) {
      // At once (one decoder call for the chunk); an unterminated last line is carried on as
      // text, and a character split at the end is held by the streaming decoder.
      if (!unfinished(part, size, false)) return this.#text(this.#decodeSegment(part));
      if (size >= LARGE_CHUNK && !this.#race.oneShotNext()) {
        this.#held = true;
        return this.#text(this.#decodeRaced(part, false));
      }
    }
    // Small chunks of non-ASCII text or of a long line: up to the last line end, the rest kept
    // as bytes, so a line is decoded in one call rather than one per chunk.
    let last = size - 1;
    while (last >= 0) {
      const byte = part[last]!;
      if (byte === LF || byte === CR) break;
      last--;
    }
    if (last >= 0) {
      if (this.#byteLength > 0) {
        this.#append(part, 0, last + 1);
        this.#text(this.#decodeKept());
      } else {
        this.#text(this.#decodeSegment(last === size - 1 ? part : part.subarray(0, last + 1)));
      }
    }
    this.#keep(part, last + 1);
  }

  /** End of stream: discards an unterminated last line (and an unfinished character in it). */
  end(): void {
    this.reset();
  }

  /** Forgets all state, as for a new connection. */
  reset(): void {
    if (this.#held) this.#flushBytes();
    this.#byteStart = 0;
    this.#byteLength = 0;
    if (this.#bytes.length > BYTES_LIMIT) this.#bytes = EMPTY;
    this.#ascii = true;
    this.#asciiRun = 0;
    this.#pending = "";
    this.#skipLF = false;
    this.#bomChecked = false;
  }

  // Bytes that start with the decoders' state empty and end on a whole character.
  #decodeSegment(bytes: Uint8Array): string {
    const length = bytes.length;
    if (length <= SMALL_SEGMENT) {
      // Few bytes: the call costs more than the decoding, and the one-shot call is the cheaper.
      const text = (this.#oneShot ??= new TextDecoder("utf-8", { ignoreBOM: true })).decode(bytes);
      this.#guess(text.length === length, ASCII_RUN_SMALL);
      return text;
    }
    if (this.#ascii) {
      const text = (this.#oneShot ??= new TextDecoder("utf-8", { ignoreBOM: true })).decode(bytes);
      // A wrong guess costs speed, not correctness: try the other decoder next time.
      if (text.length !== length) this.#ascii = false;
      return text;
    }
    const text =
      length >= RACED_SEGMENT
        ? this.#decodeRaced(bytes, this.#race.oneShotNext())
        : this.#race.oneShotWins
          ? (this.#oneShot ??= new TextDecoder("utf-8", { ignoreBOM: true })).decode(bytes)
          : this.#streamingDecoder().decode(bytes, STREAM);
    this.#guess(text.length === length, ASCII_RUN);
    return text;
  }

  // Updates the guess for the next segment from whether this one was ASCII. Back to ASCII only
  // after a few ASCII segments in a row: ASCII comes in short runs (JSON keys, ids) in mostly
  // non-ASCII streams, whose next segment would pay.
  #guess(ascii: boolean, run: number): void {
    if (this.#ascii) {
      if (!ascii) this.#ascii = false;
    } else if (!ascii) this.#asciiRun = 0;
    else if (++this.#asciiRun >= run) {
      this.#ascii = true;
      this.#asciiRun = 0;
    }
  }

  // Decodes a long non-ASCII segment with the decoder the race named (only the streaming one may
  // be given a segment that ends inside a character), timing it for the race now and then.
  #decodeRaced(bytes: Uint8Array, oneShot: boolean): string {
    const timed = this.#race.trying || ++this.#untimed === 4;
    const start = timed ? performance.now() : 0;
    const text = oneShot
      ? (this.#oneShot ??= new TextDecoder("utf-8", { ignoreBOM: true })).decode(bytes)
      : this.#streamingDecoder().decode(bytes, STREAM);
    if (timed) {
      this.#untimed = 0;
      this.#race.record(oneShot, performance.now() - start, bytes.length);
    }
    return text;
  }

  #streamingDecoder(): TextDecoder {
    return (this.#streaming ??= new TextDecoder("utf-8", { ignoreBOM: true }));
  }

  // The kept bytes, which end with a line end, decoded.
  #decodeKept(): string {
    const text = this.#decodeSegment(this.#bytes.subarray(this.#byteStart, this.#byteLength));
    this.#byteStart = 0;
    this.#byteLength = 0;
    // A buffer grown past the limit (by a large chunk's first line) is not kept for good.
    if (this.#bytes.length > BYTES_LIMIT) this.#bytes = EMPTY;
    return text;
  }

  // Keeps `chunk[from, end)`, the start of a line or its middle, as bytes, unless that makes the
  // line too long for them.
  #keep(chunk: Uint8Array, from: number): void {
    const length = chunk.length - from;
    if (length === 0) return;
    this.#append(chunk, from, chunk.length);
    const kept = this.#byteLength - this.#byteStart;
    if (this.#pending.length + kept > this.#maxLine || kept > BYTES_LIMIT) this.#asText();
  }

  // Appends `chunk[from, to)` to the kept bytes.
  #append(chunk: Uint8Array, from: number, to: number): void {
    if (chunk.length <= WHOLE_COPY && (from === 0 || this.#byteLength === 0)) {
      // A small chunk is copied whole, by one set() of it, at the end of the kept bytes: a view
      // of part of it (subarray) or a loop costs more on every engine (a view of a fresh chunk
      // about 165 ns on Bun, a loop over 80 bytes about 170 ns on V8, the set() 30-60 ns). The
      // bytes after `to` are not kept; bytes before `from` only when none were kept before.
      this.#reserve(this.#byteLength + chunk.length); // may move the kept bytes to the start
      const at = this.#byteLength;
      this.#bytes.set(chunk, at);
      if (at === 0) this.#byteStart = from;
      this.#byteLength = at + to;
      return;
    }
    const length = to - from;
    this.#reserve(this.#byteLength + length); // may move the kept bytes to the start
    const at = this.#byteLength;
    if (length <= 64) {
      // A loop beats set() + subarray() for a few bytes (the view costs an allocation).
      const bytes = this.#bytes;
      for (let i = 0; i < length; i++) bytes[at + i] = chunk[from + i]!;
    } else {
      this.#bytes.set(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to), at);
    }
    this.#byteLength = at + length;
  }

  // Room for `size` kept bytes (the kept bytes are a copy: a caller may reuse its buffer).
  #reserve(size: number): void {
    if (size <= this.#bytes.length) return;
    const grown = new Uint8Array(Math.max(size, this.#bytes.length * 2, 256));
    const start = this.#byteStart;
    grown.set(this.#bytes.subarray(start, this.#byteLength));
    this.#bytes = grown;
    this.#byteLength -= start;
    this.#byteStart = 0;
  }

  // The kept bytes go on as text: while a line's bytes are at most maxEventSize, so is its text
  // (no UTF-8 sequence decodes to more UTF-16 units than it has bytes); past that its size is
  // checked as text, chunk by chunk.
  #asText(): void {
    const bytes = this.#bytes.subarray(this.#byteStart, this.#byteLength);
    this.#byteStart = 0;
    this.#byteLength = 0;
    const text = this.#streamingDecoder().decode(bytes, STREAM);
    this.#held = unfinished(bytes, bytes.length, false);
    if (this.#bytes.length > BYTES_LIMIT) this.#bytes = EMPTY;
    // No line end in the text: #split carries it into #pending, checking its size.
    this.#text(text);
  }

  // What the kept bytes (or the streaming decoder) hold, decoded as the end of the input would
  // decode it: an unfinished character becomes U+FFFD.
  #flushBytes(): string {
    if (this.#held) {
      this.#held = false;
      return this.#streaming!.decode();
    }
    const bytes = this.#bytes.subarray(this.#byteStart, this.#byteLength);
    this.#byteStart = 0;
    this.#byteLength = 0;
    return (this.#oneShot ??= new TextDecoder("utf-8", { ignoreBOM: true })).decode(bytes);
  }

  // Decoded text: the stream's BOM removed, then split into lines.
  #text(text: string): void {
    if (text.length === 0) return;
    if (!this.#bomChecked) {
      this.#bomChecked = true;
      // "UTF-8 decode" removes one U+FEFF BYTE ORDER MARK at the very start of the stream; any
      // later one is content.
      if (text.charCodeAt(0) === BOM) {
        text = text.slice(1);
        if (text.length === 0) return;
      }
    }
    this.#split(text);
  }

  /** Splits `text` into lines; `firstLF`, when known, is where its first LF is (-1: none). */
  #split(text: string, firstLF?: number): void {
    let pos = 0;
    if (this.#skipLF) {
      this.#skipLF = false;
      // The CR that ended the previous chunk already ended its line: this LF completes a CRLF.
      if (text.charCodeAt(0) === LF) pos = 1;
    }
    const sink = this.sink;
    const end = text.length;
    // Where the next CR and LF are (-1 for none); each is searched again only once passed, so
    // the scan stays linear however the line ends mix.
    let cr = text.indexOf("\r", pos);
    let lf = firstLF ?? text.indexOf("\n", pos);
    if (this.#pending !== "") {
      const stop = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (stop === -1) return this.#carry(text, pos);
      const line = this.#pending + text.slice(pos, stop);
      this.#pending = "";
      parseLine(line, 0, line.length, sink);
      pos = this.#after(text, stop);
      if (pos === -1) return;
      if (cr !== -1 && cr < pos) cr = text.indexOf("\r", pos);
      if (lf !== -1 && lf < pos) lf = text.indexOf("\n", pos);
    }
    if (cr === -1) {
      // LF-only text, the common case: one indexOf per line. A line followed at once by an
      // empty line (the end of most events) dispatches without a second search.
      while (lf !== -1) {
        parseLine(text, pos, lf, sink);
        pos = lf + 1;
        if (text.charCodeAt(pos) === LF) {
          sink.dispatch();
          pos++;
        }
        lf = text.indexOf("\n", pos);
      }
    } else {
      while (cr !== -1 || lf !== -1) {
        if (lf === -1 || (cr !== -1 && cr < lf)) {
          parseLine(text, pos, cr, sink);
          pos = cr + 1;
          if (pos === end) {
            this.#skipLF = true;
            return;
          }
          if (lf === pos) {
            // CRLF: one line end, not two.
            pos++;
            lf = text.indexOf("\n", pos);
          }
          cr = text.indexOf("\r", pos);
        } else {
          parseLine(text, pos, lf, sink);
          pos = lf + 1;
          lf = text.indexOf("\n", pos);
        }
      }
    }
    if (pos < end) this.#carry(text, pos);
  }

  // The position after the line end at `stop`, or -1 when the text is used up.
  #after(text: string, stop: number): number {
    let pos = stop + 1;
    if (text.charCodeAt(stop) === CR) {
      if (pos === text.length) {
        this.#skipLF = true;
        return -1;
      }
      if (text.charCodeAt(pos) === LF) pos++;
    }
    return pos === text.length ? -1 : pos;
  }

  #carry(text: string, from: number): void {
    const size = this.#pending.length + text.length - from;
    if (size > this.#maxLine) {
      this.#pending = "";
      throw new EventStreamSizeError("line", size, this.#maxLine);
    }
    // String concatenation builds a rope in every engine we target: appending stays O(1) and the
    // text is flattened once, when the line completes (no quadratic rescans of a long line).
    this.#pending += from === 0 ? text : text.slice(from);
  }
}

/**
 * Whether a streaming UTF-8 decoder may hold an unfinished character after `bytes[0, length)`,
 * given whether it may have before them: yes when the lead byte of a sequence longer than what
 * follows it is among the last 3 bytes. An unfinished sequence that is invalid already (E0 80,
 * say) counts too: the answer may err towards yes, which only costs speed, never towards no.
 */
function unfinished(bytes: Uint8Array, length: number, before: boolean): boolean {
  const stop = length > 3 ? length - 3 : 0;
  for (let i = length - 1; i >= stop; i--) {
    const byte = bytes[i]!;
    if (byte < 0x80) return false; // ASCII: anything after it is a stray continuation byte
    if (byte >= 0xc0) {
      // A lead byte: C2-DF starts 2-byte sequences, E0-EF 3-byte, F0-F4 4-byte; C0, C1 and
      // F5-FF are never valid and are an error at once.
      const size = byte < 0xc2 ? 1 : byte < 0xe0 ? 2 : byte < 0xf0 ? 3 : byte < 0xf5 ? 4 : 1;
      return length - i < size;
    }
  }
  // Only continuation bytes: with 3 of them, any sequence they belong to has ended; with fewer,
  // its lead may be among the bytes held before.
  return length < 3 && before;
}
