/**
 * Fan-out peer: Hono `streamSSE` on Node, served by `@hono/node-server`.
 * Run: `node --import tsx scripts/fanout-peers/hono-node.ts --port N`.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import { createHonoPeer } from "./_hono-app.ts";
import { peerOptions } from "./_options.ts";

const { host, port } = peerOptions();
serve({ fetch: createHonoPeer().fetch, hostname: host, port }, () =>
  console.log(`hono (node) listening on http://${host}:${port}`),
);
process.on("SIGTERM", () => process.exit(0));
