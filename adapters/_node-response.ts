/**
 * Private: writes a web `Response` to a `node:http` `ServerResponse`.
 *
 * The four rules of the Node bridge: flush headers at once; stop reading the body while
 * `write()` returns false, until `drain`; cancel the body's reader when the response closes
 * (that is what runs a generator's `finally` and frees a subscriber); the request's abort
 * signal is handled by the caller on the same `close`. An eddy event stream over a push source
 * skips the reader altogether and writes straight to the response (`attachDirectly`).
 *
 * @see https://github.com/honojs/node-server/blob/main/src/utils.ts
 * @see https://github.com/h3js/srvx/blob/main/src/adapters/_node/send.ts
 * @module
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { type AttachedStream, attachSink, type ByteSink, type DirectResponse, directResponse } from "../core/mod.ts";

/**
 * Sends `response` on `res` and resolves once the body has been written or abandoned (the
 * client left, or the body stream failed: then the connection is destroyed so the client sees
 * a truncated response rather than a clean end), or at once with `true` when the body is an
 * event stream written directly to `res` from now on (end it with {@link endDirectStream}).
 * Never rejects.
 *
 * @param res The Node response, headers not yet sent.
 * @param response What the handler returned.
 * @param options `head`: send no body (the body is cancelled); `onError`: where failures of the
 *   body stream are reported; `closedByCaller`: the caller calls {@link directStreamClosed} when
 *   `res` closes (one `close` listener per response instead of two), else a directly written
 *   stream listens itself.
 * @returns Resolves when done: `true` if the body is being written directly, still open.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { sendWebResponse } from "./_node-response.ts";
 * createServer((req, res) => void sendWebResponse(res, new Response("hi"), { head: req.method === "HEAD" }));
 * ```
 */
export async function sendWebResponse(
  res: ServerResponse,
  response: Response,
  options: { head?: boolean; onError?: (error: unknown) => void; closedByCaller?: boolean } = {},
): Promise<boolean> {
  const closedByCaller = options.closedByCaller === true;
  const direct = directResponse(response);
  if (direct !== undefined) return sendDirectResponse(res, direct, options.head === true, closedByCaller);
  // One flat [name, value, ...] list for writeHead: no per-header entries kept on `res` for the
  // life of a long response (setHeader would keep them all).
  const raw: string[] = [];
  for (const [name, value] of response.headers) if (name !== "set-cookie") raw.push(name, value);
  for (const cookie of response.headers.getSetCookie()) raw.push("set-cookie", cookie);
  if (response.statusText === "") res.writeHead(response.status, raw);
  else res.writeHead(response.status, response.statusText, raw);
  const body = response.body;
  if (body === null || options.head === true) {
    body?.cancel().catch(() => {});
    res.end();
    return false;
  }
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    // Every event goes out as soon as it is written: node:http servers disable Nagle's algorithm
    // on each connection by default (`noDelay`); a server created with `noDelay: false` keeps it.
    if (attachDirectly(body, res, closedByCaller)) return true;
  }
  await pipeBody(body, res, options.onError);
  return false;
}

/**
 * Frees what `response` holds without sending it (the client left before it was sent): cancels
 * its body, or the push stream of a direct response (whose body is never made for this).
 *
 * @param response What the handler returned.
 *
 * @example
 * ```ts
 * import { discardResponse } from "./_node-response.ts";
 * discardResponse(new Response("unsent"));
 * ```
 */
export function discardResponse(response: Response): void {
  const direct = directResponse(response);
  if (direct !== undefined) direct.cancel();
  else response.body?.cancel().catch(() => {});
}

/**
 * Sends an eddy event stream made for this mount (`eventStreamResponse` with `direct`): the head
 * from its shared header list, then its push stream attached to `res` — no `Response`, body
 * stream or `Headers` walked on the way. Synchronous: nothing to wait for.
 *
 * @param res The Node response, headers not yet sent.
 * @param direct From `directResponse(response)`.
 * @param head A `HEAD` request: the head alone (the stream is cancelled).
 * @param closedByCaller As in {@link sendWebResponse}'s options.
 * @returns `true` if the stream is now written directly, still open (end it with {@link endDirectStream}).
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { directResponse, eventStreamResponse, PUSH_SOURCE } from "../core/mod.ts";
 * import { sendDirectResponse } from "./_node-response.ts";
 * createServer((req, res) => {
 *   const response = eventStreamResponse({ [PUSH_SOURCE]: () => () => {} }, { direct: true });
 *   sendDirectResponse(res, directResponse(response)!, req.method === "HEAD");
 * });
 * ```
 */
export function sendDirectResponse(
  res: ServerResponse,
  direct: DirectResponse,
  head: boolean,
  closedByCaller = false,
): boolean {
  if (direct.statusText === "") res.writeHead(direct.status, direct.headers as string[]);
  else res.writeHead(direct.status, direct.statusText, direct.headers as string[]);
  if (head) {
    direct.cancel();
    res.end();
    return false;
  }
  const sink = new ResponseSink(res);
  const attached = direct.attach(sink);
  if (attached === undefined) {
    res.end(); // it ended before it started (cancelled, or its signal aborted)
    return false;
  }
  watchSink(res, sink, attached, closedByCaller);
  return true;
}

/**
 * Tells a stream {@link sendWebResponse} writes directly that its response closed (the client
 * left, or the stream ended): it stops, and frees its source. For callers that passed
 * `closedByCaller`; does nothing for any other response. Idempotent.
 *
 * @param res The response that emitted `close`.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { directStreamClosed, sendWebResponse } from "./_node-response.ts";
 * createServer((req, res) => {
 *   res.on("close", () => directStreamClosed(res));
 *   void sendWebResponse(res, new Response("hi"), { closedByCaller: true });
 * });
 * ```
 */
export function directStreamClosed(res: ServerResponse): void {
  const sink = SINKS.get(res);
  if (sink === undefined) return;
  SINKS.delete(res);
  sink.closed();
}

/**
 * Ends a stream {@link sendWebResponse} writes directly to `res` (server shutdown), cleanly.
 *
 * @param res The response.
 * @returns Whether `res` was such a stream.
 */
export function endDirectStream(res: ServerResponse): boolean {
  const sink = SINKS.get(res);
  sink?.shutDown();
  return sink !== undefined;
}

/**
 * The fast path for an eddy event stream over a push source (a hub subscription): its events
 * are written to `res` as they happen, each one's shared bytes as they are, with no reader loop
 * and no promise per event; the writes of one event-loop turn leave together (`ResponseSink`).
 * `write()` returning `false` and `drain` feed the stream's slow-reader bound and deadline; a
 * stream it cuts destroys the connection. Returns `false` for any other body.
 */
function attachDirectly(body: ReadableStream<Uint8Array>, res: ServerResponse, closedByCaller: boolean): boolean {
  const sink = new ResponseSink(res);
  const attached = attachSink(body, sink);
  if (attached === undefined) return false;
  watchSink(res, sink, attached, closedByCaller);
  return true;
}

/**
 * From the attach on, `close` reaches the stream through the caller or a shared listener, and
 * `drain` through shared listeners registered only while a write waits (a slow reader).
 */
function watchSink(res: ServerResponse, sink: ResponseSink, attached: AttachedStream, closedByCaller: boolean): void {
  sink.attached = attached;
  sink.sendHead(); // nothing written yet (no retry line, no backlog): the head alone
  shareHeader(res);
  // `on`, not `once`: close comes once, and `once` wraps each listener.
  if (!closedByCaller) res.on("close", onSinkClose);
  SINKS.set(res, sink);
}

/**
 * The connection as an event stream's sink. One object per connection plays every role (the
 * sink, the abort listener); `drain` and `close` go to shared listeners that find it by response
 * or socket, so an open stream holds no closure of its own.
 *
 * Once the response head is out, the body is written to the socket itself, each write one
 * `socket.write` of a buffer shared by every subscriber: the frame with its chunked-coding size
 * line and CRLF around it, built once per frame ({@link chunkOf}). `res.write` would frame each
 * write anew, in four socket writes (size, CRLF, data, CRLF), per subscriber. This needs the
 * response to own its socket (not a pipelined response waiting for an earlier one: `res.socket`
 * is null then) and to tell its transfer coding (`chunkedEncoding`, set by `writeHead` since
 * Node's first releases); otherwise writes go through `res.write`.
 */
class ResponseSink implements ByteSink {
  readonly #res: ServerResponse;
  /** The socket written directly, or `undefined`: write through `res`. */
  readonly socket: Socket | undefined;
  /** Chunked transfer coding (HTTP/1.1); else the body is delimited by the connection's close (HTTP/1.0). */
  readonly #chunked: boolean;
  #headSent = false;
  #corked = false;
  /** The turn of this connection's last write (see {@link turn}). */
  #turn = -1;
  #draining = false;
  attached: AttachedStream | undefined;

  constructor(res: ServerResponse) {
    this.#res = res;
    const coding = (res as ServerResponse & { chunkedEncoding?: unknown }).chunkedEncoding;
    const socket = res.socket;
    this.socket = socket !== null && typeof coding === "boolean" ? socket : undefined;
    this.#chunked = coding === true;
  }

  write(bytes: Uint8Array): boolean {
    // The first event of a turn goes straight out: a connection that gets one event per turn
    // (most of them, most of the time) pays no corking. A second one in the same turn (a burst,
    // the head and retry line of a new stream) corks the connection until the turn ends.
    if (this.#turn !== turn && this.#headSent) {
      this.#turn = turn;
      if (!turnEnding) endTurnSoon();
    } else if (!this.#corked) this.#cork();
    const socket = this.socket;
    if (socket === undefined) {
      this.#headSent = true; // with the first write
      const room = this.#res.write(asBuffer(bytes));
      if (!room && !this.#draining) {
        this.#draining = true;
        this.#res.once("drain", onSinkDrain); // `once`: slow readers only, not every stream
      }
      return room;
    }
    this.sendHead(); // the head first, through Node
    // An empty chunk would be the chunked coding's last one: nothing to write.
    if (bytes.byteLength === 0) return !socket.writableNeedDrain;
    const room = socket.write(this.#chunked ? chunkOf(bytes) : asBuffer(bytes));
    if (!room) this.#awaitDrain(socket);
    return room;
  }

  /** Sends the response head now, if no write has sent it yet: a stream is open once attached, events or not. */
  sendHead(): void {
    if (this.#headSent) return;
    this.#headSent = true;
    if (!this.#res.destroyed) this.#res.flushHeaders();
  }

  /** Only a stream whose buffer is full listens for `drain`: an open stream carries no listener. */
  #awaitDrain(socket: Socket): void {
    if (this.#draining) return;
    this.#draining = true;
    SOCKET_SINKS.set(socket, this);
    socket.on("drain", onSocketDrain);
  }

  /** The socket drained (or the stream closed): stop listening. */
  stopDraining(): void {
    if (!this.#draining || this.socket === undefined) return;
    this.#draining = false;
    SOCKET_SINKS.delete(this.socket);
    this.socket.off("drain", onSocketDrain);
  }

  get buffered(): number {
    return this.socket === undefined ? this.#res.writableLength : this.socket.writableLength;
  }

  end(): void {
    this.uncork();
    this.#res.end(); // the last chunk (`0` CRLF CRLF) goes after ours: the same socket, in order
  }

  destroy(): void {
    this.uncork();
    this.#res.destroy(); // cut: the client sees a failure, not a clean end, and reconnects
  }

  /**
   * Holds this connection's further writes until the end of the event-loop turn: every event
   * written to it meanwhile (several publishes handled in one turn, a burst) leaves in one
   * `writev` call instead of one system call per event. The delay is at most one turn.
   */
  #cork(): void {
    this.#turn = turn;
    const socket = this.#res.socket;
    if (socket === null || socket.destroyed) return;
    socket.cork();
    this.#corked = true;
    corkedSinks.push(this);
    if (!turnEnding) endTurnSoon();
  }

  uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#res.socket?.uncork();
  }

  /** The server is shutting down: end the stream cleanly. */
  shutDown(): void {
    this.attached?.cancel();
  }

  /** The response drained, through `res` (a stream written through `res.write`). */
  resDrained(): void {
    this.#draining = false;
    this.attached?.drained();
  }

  closed(): void {
    this.#res.off("drain", onSinkDrain);
    this.stopDraining();
    this.attached?.cancel(); // the client left: unsubscribe now
  }
}

const SINKS = new WeakMap<ServerResponse, ResponseSink>();
const SOCKET_SINKS = new WeakMap<Socket, ResponseSink>();

/**
 * Node keeps the sent header block on the response (`_header`, which `headersSent` reads) for its
 * whole life, as it built it: a rope of ~20 concatenated pieces, ~600 bytes of heap per open
 * stream. Streams answered alike have the same block (it changes with the `Date` header, once a
 * second), so one flat copy serves them all: a block equal to the last one is replaced by it (the
 * comparison flattens the rope once, young garbage), any other becomes the new last one.
 */
function shareHeader(res: ServerResponse): void {
  const head = res as ServerResponse & { _header?: unknown };
  const header = head._header;
  if (typeof header !== "string" || header === "") return;
  if (header === lastHeader) head._header = lastHeader;
  else head._header = lastHeader = Buffer.from(header, "latin1").toString("latin1");
}

let lastHeader: string | undefined;

/**
 * Event-loop turns, counted: a turn ends once its I/O callbacks have run (`setImmediate`,
 * scheduled by the turn's first write), so a sink knows whether it wrote in this one.
 */
let turn = 0;
let turnEnding = false;

function endTurnSoon(): void {
  turnEnding = true;
  setImmediate(endTurn);
}

// The sinks corked this turn, uncorked together when it ends. Two arrays used in turn and
// emptied in place: no new array (and its growth) per turn; a sink corked while the others are
// uncorked goes into the other one, for the next turn.
let corkedSinks: ResponseSink[] = [];
let spareSinks: ResponseSink[] = [];

function endTurn(): void {
  turn++;
  turnEnding = false;
  const corked = corkedSinks;
  corkedSinks = spareSinks;
  for (let i = 0; i < corked.length; i++) corked[i]!.uncork();
  corked.length = 0;
  spareSinks = corked;
}

// Node's streams turn every Uint8Array written into a Buffer view first. A fan-out writes the same
// frame to every subscriber in one loop, so one remembered view serves them all.
let lastBytes: Uint8Array | undefined;
let lastBuffer: Buffer | undefined;

function asBuffer(bytes: Uint8Array): Buffer {
  if (bytes !== lastBytes) {
    lastBytes = bytes;
    lastBuffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return lastBuffer!;
}

/**
 * The chunked-coding form of `bytes` (size line, the bytes, CRLF) as one buffer. A fan-out writes
 * the same frame to every subscriber in one loop, so the last one is remembered: one buffer per
 * frame, not per subscriber.
 */
function chunkOf(bytes: Uint8Array): Buffer {
  if (bytes !== lastChunkBytes) {
    const size = `${bytes.byteLength.toString(16)}\r\n`;
    const chunk = Buffer.allocUnsafe(size.length + bytes.byteLength + 2);
    chunk.write(size, 0, "latin1");
    chunk.set(bytes, size.length);
    chunk[chunk.length - 2] = 0x0d;
    chunk[chunk.length - 1] = 0x0a;
    lastChunkBytes = bytes;
    lastChunk = chunk;
  }
  return lastChunk!;
}

let lastChunkBytes: Uint8Array | undefined;
let lastChunk: Buffer | undefined;

function onSinkDrain(this: ServerResponse): void {
  SINKS.get(this)?.resDrained();
}

function onSocketDrain(this: Socket): void {
  const sink = SOCKET_SINKS.get(this);
  sink?.stopDraining();
  sink?.attached?.drained();
}

function onSinkClose(this: ServerResponse): void {
  directStreamClosed(this);
}

async function pipeBody(
  body: ReadableStream<Uint8Array>,
  res: ServerResponse,
  onError = (_error: unknown) => {},
): Promise<void> {
  const reader = body.getReader();
  // The client left (or the socket died): cancel, which runs the source's cancel/finally.
  const onClose = () => void reader.cancel(new Error("The client closed the connection")).catch(() => {});
  res.once("close", onClose);
  try {
    // Headers go out at once. When the first chunk is already there (a JSON answer, an event
    // stream's `retry:` line) they share its packet; otherwise they are flushed alone.
    const first = reader.read();
    if ((await Promise.race([first, nextTurn()])) === undefined) res.flushHeaders();
    for (let step = await first; !step.done; step = await reader.read()) {
      if (res.destroyed) return;
      if (!res.write(step.value)) await drained(res);
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    if (!res.destroyed) {
      onError(error);
      res.destroy(); // no clean end: the client must not take a truncated body for a whole one
    }
  } finally {
    res.off("close", onClose);
  }
}

/** Resolves `undefined` after pending I/O callbacks: "not ready now". */
function nextTurn(): Promise<undefined> {
  return new Promise((resolve) => setImmediate(resolve, undefined));
}

/** Waits for `drain`, or for `close` (then nothing will drain). */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done).off("close", done);
      resolve();
    };
    res.on("drain", done).on("close", done);
  });
}
