/**
 * Fan-out peer: Hono `streamSSE` on Deno, served by `Deno.serve`.
 * Run: `deno run --allow-net --allow-env --allow-read scripts/fanout-peers/hono-deno.ts --port N`.
 *
 * @module
 */
import process from "node:process";
import { createHonoPeer } from "./_hono-app.ts";
import { peerOptions } from "./_options.ts";

// Only the Deno API this file uses, declared here so no runtime's types enter the compilation.
declare const Deno: {
  serve(
    options: { port: number; hostname: string; onListen(address: unknown): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown;
};

const { host, port } = peerOptions();
Deno.serve(
  { port, hostname: host, onListen: () => console.log(`hono (deno) listening on http://${host}:${port}`) },
  createHonoPeer().fetch,
);
process.on("SIGTERM", () => process.exit(0));
