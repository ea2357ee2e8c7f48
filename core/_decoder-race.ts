/**
 * Which of two `TextDecoder` calls decodes long non-ASCII text faster on this engine, learned by
 * timing both on the stream's own text. Engines disagree, and no rule fits all: on Node 20 a
 * one-shot `decode(bytes)` of such text takes about twice as long as a streaming one (`{ stream:
 * true }`), on Deno half as long, and on Bun it depends on how dense the non-ASCII text is. Both
 * give the same text, so the choice is about time only.
 *
 * @module
 */

/** Samples per decoder that a comparison looks at (their median shrugs off one preempted call). */
const SAMPLES = 3;
/** Timed decodes before the slower decoder is tried again; doubled each time it stays slower. */
const RETRY_FIRST = 8;
const RETRY_LAST = 1024;

/**
 * Internal: picks the decoder for each long segment and learns from its timing. The current
 * choice decodes (and is timed), and every so often the other one gets `SAMPLES` segments in a
 * row; then the one with the lower median cost per byte (of its last `SAMPLES`) becomes the
 * choice. Until both have been tried, the streaming decoder goes first.
 *
 * @example
 * ```ts
 * import { DecoderRace } from "./_decoder-race.ts";
 * const race = new DecoderRace();
 * const oneShot = new TextDecoder();
 * const streaming = new TextDecoder();
 * const bytes = new TextEncoder().encode("한국어 텍스트 ".repeat(400));
 * for (let i = 0; i < 20; i++) {
 *   const useOneShot = race.oneShotNext();
 *   const start = performance.now();
 *   if (useOneShot) oneShot.decode(bytes);
 *   else streaming.decode(bytes, { stream: true });
 *   race.record(useOneShot, performance.now() - start, bytes.length);
 * }
 * console.log(race.oneShotWins ? "one-shot" : "streaming", "is the faster here");
 * ```
 */
export class DecoderRace {
  #oneShotWins = false;
  readonly #costs: [number[], number[]] = [[], []]; // ms per byte: [streaming, one-shot]
  #trying = SAMPLES; // segments left for the other decoder's try (the first try starts at once)
  #untilTry = SAMPLES; // segments left before the next try (the first comes after SAMPLES)
  #gap = RETRY_FIRST;

  /** Whether the one-shot decoder was the faster when the two last raced. */
  get oneShotWins(): boolean {
    return this.#oneShotWins;
  }

  /** Whether the slower decoder is having its try: every segment then counts. */
  get trying(): boolean {
    return this.#untilTry === 0;
  }

  /** Whether the next long segment goes to the one-shot decoder. */
  oneShotNext(): boolean {
    return this.#untilTry > 0 ? this.#oneShotWins : !this.#oneShotWins;
  }

  /** Records what decoding `bytes` bytes with the decoder `oneShotNext()` named took. */
  record(oneShot: boolean, ms: number, bytes: number): void {
    const costs = this.#costs[oneShot ? 1 : 0];
    if (costs.push(ms / bytes) > SAMPLES) costs.shift();
    if (this.#untilTry > 0) {
      this.#untilTry--;
      return;
    }
    if (--this.#trying > 0) return;
    // The other decoder has had its try: keep the faster.
    const wins = median(this.#costs[1]) < median(this.#costs[0]);
    this.#gap = wins === this.#oneShotWins ? Math.min(this.#gap * 2, RETRY_LAST) : RETRY_FIRST;
    this.#oneShotWins = wins;
    this.#untilTry = this.#gap;
    this.#trying = SAMPLES;
  }
}

/** The median of up to `SAMPLES` numbers (NaN for none: never the lower). */
function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}
