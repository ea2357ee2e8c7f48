import { eventStreamResponse } from "eddy-sse/core";

async function* clock(signal: AbortSignal) {
  while (!signal.aborted) {
    yield { event: "tick", data: new Date().toISOString() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

Deno.serve({ port: 8080 }, (request) =>
  eventStreamResponse(clock(request.signal), { heartbeat: 15_000, signal: request.signal }));
