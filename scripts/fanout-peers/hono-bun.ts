/**
 * Fan-out peer: Hono `streamSSE` on Bun, served by `Bun.serve` (idle timeout off: Bun would cut a
 * quiet stream after 10 s). Run: `bun scripts/fanout-peers/hono-bun.ts --port N`.
 *
 * @module
 */
import process from "node:process";
import { createHonoPeer } from "./_hono-app.ts";
import { peerOptions } from "./_options.ts";

// Only the Bun API this file uses, declared here so no runtime's types enter the compilation.
declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout: number;
    fetch(request: Request): Response | Promise<Response>;
  }): unknown;
};

const { host, port } = peerOptions();
Bun.serve({ port, hostname: host, idleTimeout: 0, fetch: createHonoPeer().fetch });
console.log(`hono (bun) listening on http://${host}:${port}`);
process.on("SIGTERM", () => process.exit(0));
