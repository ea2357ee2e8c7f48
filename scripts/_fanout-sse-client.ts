/**
 * Private to `scripts/bench-fanout.ts`: one subscriber on a raw `net` socket, kept cheap so the
 * load generator is not the bottleneck.
 *
 * It writes `GET <path> HTTP/1.1` by hand, reads the response head, undoes chunked transfer
 * coding if the server uses it, and splits the body into SSE frames at `\n\n` without a full
 * parser: a frame is a message event when it has no `event:` field or `event: message`, and its
 * data carries `"text":"<seq> <send-µs> …"` (see `_fanout-message.ts`). Everything else
 * (`retry:`, comments, eddy's `presence`) is skipped. One clock reading per socket read stamps
 * every frame that read completes. Sockets read through `onread` into one shared buffer (no stream
 * machinery per read), decoded as latin1: the frames we look into are ASCII, and a one-byte
 * string is the cheapest thing V8 can search.
 *
 * @module
 */
import { connect, type Socket } from "node:net";
import { nowUs } from "./_fanout-message.ts";
import type { DeliveryTracker } from "./_fanout-tracker.ts";

const TEXT_KEY = '"text":"';
/** Every socket reads into this one buffer: each read is consumed before the next one can land. */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

export type SseTarget = { host: string; port: number; path: string; localAddress?: string };

/** What the pool of connections shares: the ledger and the tallies of failures. */
export type SseShared = {
  tracker: DeliveryTracker;
  /** Bytes of response body received (after de-chunking), all connections. */
  bodyBytes: number;
  /** Response statuses other than 200, by status. */
  badStatus: Map<number, number>;
  /** Socket errors by code. */
  errors: Map<string, number>;
  /** Connections the server closed (or reset) after answering 200. */
  closedByServer: number;
  /** Events of other types than `message` (eddy's `presence`), all connections. */
  otherEvents: number;
};

export class SseConnection {
  readonly index: number;
  readonly socket: Socket;
  readonly #shared: SseShared;
  /** Resolved when the 200 head arrived (true) or the connection failed before that (false). */
  readonly ready: Promise<boolean>;
  #settle!: (ok: boolean) => void;
  #head = "";
  #inBody = false;
  #chunked = false;
  /** Bytes left in the current chunk's data. */
  #chunkLeft = 0;
  /** Bytes of the CRLF after a chunk's data still to skip. */
  #skip = 0;
  /** A chunk-size line split across reads. */
  #sizeLine = "";
  /** The body after the last complete frame. */
  #pending = "";
  #receivedUs = 0;
  /** Open with a 200 answer and not closed. */
  open = false;
  /** We are closing it: its end is not the server's doing. */
  #closing = false;

  constructor(index: number, target: SseTarget, shared: SseShared) {
    this.index = index;
    this.#shared = shared;
    this.ready = new Promise((resolve) => (this.#settle = resolve));
    const socket = connect({
      host: target.host,
      port: target.port,
      ...(target.localAddress === undefined ? {} : { localAddress: target.localAddress }),
      // Reads land in one shared buffer and come straight to us: no Readable stream, no 'data' event.
      onread: {
        buffer: READ_BUFFER,
        callback: (length) => {
          this.#onData(READ_BUFFER.toString("latin1", 0, length));
          return true;
        },
      },
    });
    this.socket = socket;
    socket.on("connect", () => {
      socket.write(
        `GET ${target.path} HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n`,
      );
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? error.message;
      shared.errors.set(code, (shared.errors.get(code) ?? 0) + 1);
    });
    socket.on("close", () => {
      if (this.open && !this.#closing) shared.closedByServer++;
      this.open = false;
      this.#settle(false);
    });
  }

  /** Closes the connection from our side. */
  close(): void {
    this.#closing = true;
    this.socket.destroy();
  }

  #onData(text: string): void {
    this.#receivedUs = nowUs();
    if (this.#inBody) return this.#onBody(text);
    this.#head += text;
    const end = this.#head.indexOf("\r\n\r\n");
    if (end < 0) {
      if (this.#head.length > 16_384) this.socket.destroy();
      return;
    }
    const head = this.#head.slice(0, end);
    const rest = this.#head.slice(end + 4);
    this.#head = "";
    const status = Number(head.slice(9, 12));
    if (status !== 200) {
      this.#shared.badStatus.set(status, (this.#shared.badStatus.get(status) ?? 0) + 1);
      this.#closing = true;
      this.socket.destroy();
      return;
    }
    this.#chunked = /\r\ntransfer-encoding:[ \t]*chunked/i.test(head);
    this.#inBody = true;
    this.open = true;
    this.#settle(true);
    if (rest) this.#onBody(rest);
  }

  /** Undoes chunked transfer coding (if any) and hands the payload on. */
  #onBody(text: string): void {
    if (!this.#chunked) return this.#onPayload(text);
    let payload = "";
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (this.#chunkLeft > 0) {
        const take = Math.min(this.#chunkLeft, n - i);
        payload += i === 0 && take === n ? text : text.slice(i, i + take);
        i += take;
        this.#chunkLeft -= take;
        if (this.#chunkLeft === 0) this.#skip = 2; // the CRLF that ends the chunk's data
      } else if (this.#skip > 0) {
        const skip = Math.min(this.#skip, n - i);
        i += skip;
        this.#skip -= skip;
      } else {
        const lf = text.indexOf("\n", i);
        if (lf < 0) {
          this.#sizeLine += text.slice(i);
          break;
        }
        const line = this.#sizeLine + text.slice(i, lf); // "1a2\r" or "1a2;ext\r": parseInt stops at either
        this.#sizeLine = "";
        i = lf + 1;
        const size = Number.parseInt(line, 16);
        if (size === 0) break; // the last chunk: the server ended the response
        this.#chunkLeft = size;
      }
    }
    if (payload) this.#onPayload(payload);
  }

  /** Splits the payload into frames at `\n\n` and records each message event. */
  #onPayload(payload: string): void {
    this.#shared.bodyBytes += payload.length;
    const buffer = this.#pending ? this.#pending + payload : payload;
    let start = 0;
    for (;;) {
      const end = buffer.indexOf("\n\n", start);
      if (end < 0) break;
      this.#onFrame(buffer, start, end);
      start = end + 2;
    }
    this.#pending = start === 0 ? buffer : buffer.slice(start);
  }

  #onFrame(buffer: string, start: number, end: number): void {
    // Search within the frame only (a slice is O(1) in V8): a miss must not scan the rest of the read.
    const frame = buffer.slice(start, end);
    const event = frame.startsWith("event:") ? 0 : frame.indexOf("\nevent:") + 1;
    if (event > 0 || frame.startsWith("event:")) {
      let v = event + 6;
      if (frame.charCodeAt(v) === 32) v++;
      const type = frame.slice(v, frame.indexOf("\n", v) >>> 0);
      if (type !== "message") {
        this.#shared.otherEvents++; // eddy's presence, and any other event type
        return;
      }
    }
    const key = frame.indexOf(TEXT_KEY);
    if (key < 0) return; // retry:, comments
    let i = key + TEXT_KEY.length;
    let seq = 0;
    for (let c = frame.charCodeAt(i); c >= 48 && c <= 57; c = frame.charCodeAt(++i)) seq = seq * 10 + c - 48;
    i++; // the space
    let sentUs = 0;
    for (let c = frame.charCodeAt(i); c >= 48 && c <= 57; c = frame.charCodeAt(++i)) sentUs = sentUs * 10 + c - 48;
    this.#shared.tracker.record(this.index, seq, sentUs, this.#receivedUs);
  }
}
