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
import { type AttachedStream, attachSink, type ByteSink } from "../core/mod.ts";

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
 *   body stream are reported.
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
  options: { head?: boolean; onError?: (error: unknown) => void } = {},
): Promise<boolean> {
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
    if (attachDirectly(body, res)) return true;
  }
  await pipeBody(body, res, options.onError);
  return false;
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
function attachDirectly(body: ReadableStream<Uint8Array>, res: ServerResponse): boolean {
  const sink = new ResponseSink(res);
  const attached = attachSink(body, sink);
  if (attached === undefined) return false;
  sink.attached = attached;
  if (!res.headersSent && !res.destroyed) res.flushHeaders(); // nothing to send yet: headers alone
  flattenHeader(res);
  res.on("drain", onSinkDrain);
  res.on("close", onSinkClose); // `on`, not `once`: close comes once, and `once` wraps each listener
  SINKS.set(res, sink);
  return true;
}

/**
 * The connection as an event stream's sink. One object per connection plays every role (the
 * sink, the abort listener); `drain` and `close` go to shared listeners that find it by response,
 * so an open stream holds no closure of its own.
 */
class ResponseSink implements ByteSink {
  readonly #res: ServerResponse;
  #corked = false;
  attached: AttachedStream | undefined;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  write(bytes: Uint8Array): boolean {
    if (!this.#corked) this.#cork();
    return this.#res.write(asBuffer(bytes));
  }

  get buffered(): number {
    return this.#res.writableLength;
  }

  end(): void {
    this.uncork();
    this.#res.end();
  }

  destroy(): void {
    this.uncork();
    this.#res.destroy(); // cut: the client sees a failure, not a clean end, and reconnects
  }

  /**
   * Holds this connection's writes until the end of the event-loop turn: every event written to
   * it meanwhile (several publishes handled in one turn, a burst) leaves in one `writev` call
   * instead of one system call per event. The delay is at most one turn.
   */
  #cork(): void {
    const socket = this.#res.socket;
    if (socket === null || socket.destroyed) return;
    socket.cork();
    this.#corked = true;
    corkedSinks.push(this);
    if (!uncorkScheduled) {
      uncorkScheduled = true;
      setImmediate(uncorkAll);
    }
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

  closed(): void {
    this.#res.off("drain", onSinkDrain);
    this.attached?.cancel(); // the client left: unsubscribe now
  }
}

const SINKS = new WeakMap<ServerResponse, ResponseSink>();

/**
 * Node keeps the sent header block on the response (`_header`, which `headersSent` reads) for its
 * whole life, as it built it: a rope of ~20 concatenated pieces, ~600 bytes of heap per open
 * stream. The same text as one flat string costs a third of that.
 */
function flattenHeader(res: ServerResponse): void {
  const head = res as ServerResponse & { _header?: unknown };
  if (typeof head._header === "string" && head._header !== "") {
    head._header = Buffer.from(head._header, "latin1").toString("latin1");
  }
}

// The sinks corked this turn, uncorked together once the turn's I/O callbacks have run.
let corkedSinks: ResponseSink[] = [];
let uncorkScheduled = false;

function uncorkAll(): void {
  const corked = corkedSinks;
  corkedSinks = [];
  uncorkScheduled = false;
  for (const sink of corked) sink.uncork();
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

function onSinkDrain(this: ServerResponse): void {
  SINKS.get(this)?.attached?.drained();
}

function onSinkClose(this: ServerResponse): void {
  SINKS.get(this)?.closed();
  SINKS.delete(this);
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
