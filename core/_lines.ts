/**
 * Bytes to lines: incremental UTF-8 decoding, the one leading BOM, and CRLF / LF / CR line ends
 * that may fall anywhere across chunk boundaries. Lines are handed on as ranges of the decoded
 * text, so no line string is built unless a line spans chunks.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#parsing-an-event-stream
 * @module
 */
import { EventStreamSizeError } from "./errors.ts";
import type { FieldSink } from "./_interpret.ts";
import { parseLine } from "./_parse-line.ts";

const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/** Internal: the line layer of `createParser`. */
export class LineSplitter {
  // HTML §9.2.6: the stream is decoded as UTF-8 with replacement (U+FFFD) for invalid bytes. A
  // streaming decoder keeps a multi-byte character split across chunks whole. The BOM is ours
  // to strip (ignoreBOM keeps it), so byte and string input share one rule.
  #decoder: TextDecoder | undefined;
  // Whether the decoder holds no partial character, and whether the last chunk was all ASCII:
  // then a chunk that ends on an ASCII byte can use the one-shot decode, several times faster
  // than the streaming one on Node for ASCII text (and identical in output, since nothing is
  // carried between the calls). Non-ASCII streams stay on the streaming decode, faster there.
  #decoderClean = true;
  #asciiSoFar = true;
  #pending = ""; // an unterminated line carried over to the next chunk
  #skipLF = false; // the last chunk ended in CR: a LF that starts the next one belongs to it
  #bomChecked = false;
  /** Where each line's fields go (the interpreter); swapped by `createParser` on reset. */
  sink: FieldSink;
  readonly #maxLine: number;

  constructor(sink: FieldSink, maxLine: number) {
    this.sink = sink;
    this.#maxLine = maxLine;
  }

  /** Decodes and splits one chunk. */
  push(chunk: Uint8Array | string): void {
    let text: string;
    if (typeof chunk === "string") {
      // Bytes still held by the decoder belong before this text: flush them (as U+FFFD).
      text = this.#decoder === undefined ? chunk : this.#decoder.decode() + chunk;
      this.#decoderClean = true;
    } else {
      const decoder = (this.#decoder ??= new TextDecoder("utf-8", { ignoreBOM: true }));
      const length = chunk.length;
      if (length === 0) return;
      const endsAscii = chunk[length - 1]! < 0x80;
      text =
        this.#decoderClean && this.#asciiSoFar && endsAscii
          ? decoder.decode(chunk)
          : decoder.decode(chunk, { stream: true });
      // A partial character can only be held back when the chunk ends inside one.
      this.#decoderClean = endsAscii;
      this.#asciiSoFar = text.length === length;
    }
    if (text.length === 0) return;
    if (!this.#bomChecked) {
      this.#bomChecked = true;
      // HTML §9.2.6: one U+FEFF BYTE ORDER MARK at the very start of the stream is ignored;
      // any later one is content.
      if (text.charCodeAt(0) === BOM) {
        text = text.slice(1);
        if (text.length === 0) return;
      }
    }
    this.#split(text);
  }

  /** End of stream: flushes the decoder and discards an unterminated last line. */
  end(): void {
    this.#decoder?.decode();
    this.reset();
  }

  /** Forgets all state, as for a new connection. */
  reset(): void {
    this.#decoder = undefined;
    this.#decoderClean = true;
    this.#asciiSoFar = true;
    this.#pending = "";
    this.#skipLF = false;
    this.#bomChecked = false;
  }

  #split(text: string): void {
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
    let lf = text.indexOf("\n", pos);
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
