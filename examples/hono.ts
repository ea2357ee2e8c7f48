import { Hono } from "hono";
import { eventStreamResponse } from "eddy-sse/core";
import { serve } from "eddy-sse/node"; // or Bun.serve / Deno.serve with app.fetch

async function* clock(signal: AbortSignal) {
  while (!signal.aborted) {
    yield { event: "tick", data: new Date().toISOString() };
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const app = new Hono();
app.get("/events", (c) => eventStreamResponse(clock(c.req.raw.signal), { signal: c.req.raw.signal }));
await serve(app.fetch, { port: 8080 });
