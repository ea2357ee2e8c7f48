/**
 * The published package works: `npm run build`, `npm pack`, install the tarball into a scratch
 * project, import every `exports` subpath on Node, type-check a consumer against the shipped
 * declarations, and run a five-line server with it.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";

const root = new URL("..", import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { name: string; exports: Record<string, unknown> };
let scratch = "";

const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), "eddy-package-"));
  run(process.execPath, [join(root, "node_modules/tsx/dist/cli.mjs"), "scripts/build.ts"], root);
  const tarball = run("npm", ["pack", "--silent", "--pack-destination", scratch], root).trim().split("\n").pop()!;
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", join(scratch, tarball)], scratch);
}, 180_000);

afterAll(() => {
  if (scratch !== "") rmSync(scratch, { recursive: true, force: true });
});

test("package exports only subpaths, each with types and default, and no default export", () => {
  expect(Object.keys(pkg.exports).sort()).toEqual(["./bun", "./chat", "./core", "./deno", "./node", "./package.json"]);
  for (const [key, value] of Object.entries(pkg.exports)) {
    if (key === "./package.json") continue;
    expect(Object.keys(value as object).sort(), key).toEqual(["default", "types"]);
  }
});

test("package subpaths import on Node with their named exports", () => {
  const script = `
    const names = {};
    for (const sub of ["core", "chat", "node", "bun", "deno"]) {
      const mod = await import("${pkg.name}/" + sub);
      if ("default" in mod) throw new Error(sub + " has a default export");
      names[sub] = Object.keys(mod).sort();
    }
    console.log(JSON.stringify(names));`;
  writeFileSync(join(scratch, "imports.mjs"), script);
  const names = JSON.parse(run(process.execPath, ["imports.mjs"], scratch)) as Record<string, string[]>;
  expect(names.core).toEqual(expect.arrayContaining([
    "EventStreamEncoder", "EventStreamParser", "EventStreamSizeError", "createParser", "encodeEvent",
    "eventStreamResponse", "parseEventStream", "toEventStream",
  ]));
  expect(names.chat).toEqual(expect.arrayContaining(["createChatApp", "createMemoryHub", "openAIResponder", "typewriterResponder"]));
  expect(names.node).toContain("serve");
  expect(names.bun).toContain("serve");
  expect(names.deno).toContain("serve");
});

test("package runs a five-line server from the tarball", () => {
  const server = `
    import { serve } from "${pkg.name}/node";
    import { eventStreamResponse } from "${pkg.name}/core";
    const server = await serve(() => eventStreamResponse([{ event: "hi", data: "from the package" }]), { port: 0 });
    console.log(await (await fetch(server.url)).text());
    await server.close();`;
  writeFileSync(join(scratch, "server.mjs"), server);
  expect(run(process.execPath, ["server.mjs"], scratch)).toBe("event: hi\ndata: from the package\n\n\n");
});

test("package declarations type-check a consumer", () => {
  writeFileSync(join(scratch, "consumer.ts"), `
    import { encodeEvent, parseEventStream, type ServerSentEvent } from "${pkg.name}/core";
    import { createChatApp, type ChatApp } from "${pkg.name}/chat";
    const frame: string = encodeEvent({ data: "x" });
    const app: ChatApp = createChatApp({ responder: null });
    async function first(body: ReadableStream<Uint8Array>): Promise<ServerSentEvent | undefined> {
      for await (const event of parseEventStream(body)) return event;
      return undefined;
    }
    export { app, first, frame };
  `);
  writeFileSync(join(scratch, "tsconfig.json"), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, module: "nodenext", moduleResolution: "nodenext", target: "es2022", lib: ["es2023", "dom", "dom.asynciterable"], types: [], skipLibCheck: false },
    files: ["consumer.ts"],
  }));
  // Throws with tsc's diagnostics in the message if the shipped declarations do not resolve.
  expect(() => run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], scratch)).not.toThrow();
});
