/**
 * Private: writes a web `Response` to a `node:http` `ServerResponse`.
 *
 * The four rules of the Node bridge: flush headers at once; stop reading the body while
 * `write()` returns false, until `drain`; cancel the body's reader when the response closes
 * (that is what runs a generator's `finally` and frees a subscriber); the request's abort
 * signal is handled by the caller on the same `close`.
 *
 * @see https://github.com/honojs/node-server/blob/main/src/utils.ts
 * @see https://github.com/h3js/srvx/blob/main/src/adapters/_node/send.ts
 * @module
 */
import type { ServerResponse } from "node:http";

/**
 * Sends `response` on `res` and resolves once the body has been written or abandoned (the
 * client left, or the body stream failed: then the connection is destroyed so the client sees
 * a truncated response rather than a clean end). Never rejects.
 *
 * @param res The Node response, headers not yet sent.
 * @param response What the handler returned.
 * @param options `head`: send no body (the body is cancelled); `onError`: where failures of the
 *   body stream are reported.
 * @returns Resolves when done.
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
): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText !== "") res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name !== "set-cookie") res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);
  const body = response.body;
  if (body === null || options.head === true) {
    body?.cancel().catch(() => {});
    res.end();
    return;
  }
  if ((response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    res.socket?.setNoDelay(true); // every event goes out as soon as it is written
  }
  await pipeBody(body, res, options.onError);
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
