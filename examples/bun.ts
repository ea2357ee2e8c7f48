import { eventStreamResponse } from "eddy-sse/core";

async function* clock(signal: AbortSignal) {
  while (!signal.aborted) {
    yield { event: "tick", data: new Date().toISOString() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

Bun.serve({
  port: 8080,
  fetch(request, server) {
    server.timeout(request, 0); // Bun cuts idle connections after 10 s by default
    return eventStreamResponse(clock(request.signal), { heartbeat: 15_000, signal: request.signal });
  },
});
