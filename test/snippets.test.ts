/**
 * The README's "mount the core in your app" snippets stay true: each README block must equal its
 * file in examples/, and each file is run on its runtime (Node, Bun, Deno, Hono on Node) with the
 * package imports pointed at this checkout, then must serve a `tick` event to a real client.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, test } from "vitest";
import { parseEventStream } from "../core/mod.ts";
import { freePort, ROOT, waitFor } from "./_server.ts";

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const scratch = join(ROOT, "test-output", "snippets"); // inside the repo, so `hono` resolves
mkdirSync(scratch, { recursive: true });

const SNIPPETS = [
  { file: "node-http.ts", command: [process.execPath, "--import", "tsx"], path: "/" },
  { file: "hono.ts", command: [process.execPath, "--import", "tsx"], path: "/events" },
  { file: "bun.ts", command: [join(ROOT, "node_modules/.bin/bun")], path: "/" },
  { file: "deno.ts", command: [join(ROOT, "node_modules/.bin/deno"), "run", "--allow-net"], path: "/" },
] as const;

let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill("SIGKILL");
  child = undefined;
});

for (const snippet of SNIPPETS) {
  test(`README snippet examples/${snippet.file} matches the file and serves events`, async () => {
    const source = readFileSync(join(ROOT, "examples", snippet.file), "utf8");
    const marker = `<!-- snippet: examples/${snippet.file} -->\n\`\`\`ts\n`;
    const start = readme.indexOf(marker);
    expect(start, `README has no block after ${marker.trim()}`).toBeGreaterThan(-1);
    const block = readme.slice(start + marker.length, readme.indexOf("```", start + marker.length));
    expect(block).toBe(source);

    const port = await freePort();
    const runnable = source
      .replaceAll('"eddy-sse/core"', JSON.stringify(join(ROOT, "core/mod.ts")))
      .replaceAll('"eddy-sse/node"', JSON.stringify(join(ROOT, "adapters/node.ts")))
      .replaceAll("8080", String(port));
    const file = join(scratch, snippet.file);
    writeFileSync(file, runnable);
    const [command, ...args] = snippet.command;
    let stderr = "";
    child = spawn(command, [...args, file], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));

    const response = await waitFor(() => fetch(`http://127.0.0.1:${port}${snippet.path}`).catch(() => undefined), {
      timeoutMs: 30_000,
      what: `examples/${snippet.file} to listen (stderr: ${stderr})`,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    for await (const event of parseEventStream(response.body!)) {
      expect(event.type).toBe("tick");
      expect(Number.isNaN(Date.parse(event.data))).toBe(false);
      break; // cancels the body: the snippet's generator stops
    }
  }, 60_000);
}
