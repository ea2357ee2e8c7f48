/**
 * Private to `scripts/bench-fanout.ts`: the benchmark message, shared by the publisher (which
 * writes it) and the SSE client (which reads it back out of each event).
 *
 * The text is `"<seq> <send-µs> xxxx…"`, padded with `x` to {@link TEXT_BYTES}: ASCII only, so
 * every server's JSON carries it verbatim and the client finds it after `"text":"` in the event's
 * data. `<send-µs>` is the *scheduled* send time on the monotonic clock (`process.hrtime`, shared
 * by every thread and process of this machine), so latency includes any time a message waited for
 * a free publishing connection (no coordinated omission).
 *
 * @module
 */

/** Length of every message text: the "message ≈ 100 B". */
const TEXT_BYTES = 100;

/** Warm-up messages number from here, far above any measured sequence number. */
export const WARMUP_SEQ = 1_000_000_000;

/** The monotonic clock in microseconds (CLOCK_MONOTONIC: comparable across threads and processes). */
export function nowUs(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e6 + nanoseconds / 1e3;
}

/** The message text for sequence number `seq` sent (scheduled) at `sentUs`. */
function messageText(seq: number, sentUs: number): string {
  const head = `${seq} ${Math.round(sentUs)} `;
  return head + "x".repeat(Math.max(0, TEXT_BYTES - head.length));
}

/** The JSON body of the publish request every server under test accepts. */
export function publishBody(seq: number, sentUs: number): string {
  return `{"user":"bench","text":"${messageText(seq, sentUs)}"}`;
}
