import { createServer } from "node:http";
import { Readable } from "node:stream";
import { toEventStream } from "eddy-sse/core";

async function* clock(signal: AbortSignal) {
  while (!signal.aborted) {
    yield { event: "tick", data: new Date().toISOString() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

createServer((req, res) => {
  const closed = new AbortController();
  res.on("close", () => closed.abort()); // the client left: stop the generator
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache, no-transform" });
  Readable.fromWeb(toEventStream(clock(closed.signal), { heartbeat: 15_000, signal: closed.signal })).pipe(res);
}).listen(8080);
