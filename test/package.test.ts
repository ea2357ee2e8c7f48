/**
 * The published package works, built the way a new user builds it: `git clone` the committed
 * repository, `npm ci`, `npm pack` (whose `prepack` script builds dist/; the test never builds it
 * itself), install the tarball into an empty project, then import every `exports` subpath on Node,
 * type-check a consumer against the shipped declarations, and run a five-line server with it.
 * The clone holds only committed files: uncommitted changes are not part of what is tested.
 */
import { execFileSync, spawn } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { waitFor } from "./_server.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  name: string;
  version: string;
  exports: Record<string, unknown>;
};
const version = pkg.version;
let work = ""; // holds clone/ (the fresh clone), the tarball, and consumer/
let scratch = ""; // the empty project the tarball is installed into
let distBeforePack = true;
let packOutput = "";

// Git variables of an enclosing git command (a hook, a rebase --exec) would point the clone elsewhere.
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("GIT_")));
const run = (command: string, args: string[], cwd: string) =>
  execFileSync(command, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "eddy-package-"));
  const clone = join(work, "clone");
  scratch = join(work, "consumer");
  run("git", ["clone", "--quiet", root, clone], work);
  run("npm", ["ci", "--no-audit", "--no-fund"], clone);
  distBeforePack = existsSync(join(clone, "dist"));
  packOutput = run("npm", ["pack", "--silent", "--pack-destination", work], clone);
  const tarball = packOutput.trim().split("\n").pop()!;
  mkdirSync(scratch);
  writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const install = ["install", "--no-audit", "--no-fund", "--ignore-scripts", "--no-package-lock", join(work, tarball)];
  run("npm", install, scratch);
}, 180_000);

afterAll(() => {
  if (work !== "") rmSync(work, { recursive: true, force: true });
});

test("package builds itself: npm pack in a fresh clone runs the build, with the core size budget", () => {
  expect(distBeforePack, "a fresh clone has no dist/").toBe(false);
  expect(packOutput).toMatch(/^core: \d+(\.\d)? KiB gzip \(budget \d+(\.\d)? KiB\)$/m);
  expect(packOutput).toMatch(/^build: \d+ JavaScript files, \d+ declaration files in dist\/$/m);
});

// web/ is the page the `eddy serve` command serves.
test("package ships dist/, web/, README.md, LICENSE, CHANGELOG.md and package.json, and no TypeScript sources", () => {
  const installed = join(scratch, "node_modules", pkg.name);
  const files = [...walk(installed)].map((file) => relative(installed, file).split("\\").join("/"));
  const shipped =
    /^(dist\/.+\.(js|js\.map|d\.ts)|web\/(index\.html|chat\.js|chat\.css|i18n\/[a-z][a-z0-9-]*\.js)|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/;
  const unexpected = files.filter((file) => !shipped.test(file));
  expect(unexpected).toEqual([]);
  expect(files).toEqual(
    expect.arrayContaining([
      "dist/core.js",
      "dist/chat.js",
      "dist/eddy.js",
      "web/index.html",
      "web/chat.js",
      "web/chat.css",
      "web/i18n/languages.js",
      "web/i18n/en.js",
      "web/i18n/ko.js",
      "README.md",
      "LICENSE",
      "CHANGELOG.md",
    ]),
  );
});

test("package exports only subpaths, each with types and default, and no default export", () => {
  expect(Object.keys(pkg.exports).sort()).toEqual([
    "./bun",
    "./chat",
    "./core",
    "./deno",
    "./node",
    "./package.json",
    "./redis",
  ]);
  for (const [key, value] of Object.entries(pkg.exports)) {
    if (key === "./package.json") continue;
    expect(Object.keys(value as object).sort(), key).toEqual(["default", "types"]);
  }
});

test("package subpaths import on Node with their named exports", () => {
  const script = `
    const names = {};
    for (const sub of ["core", "chat", "node", "bun", "deno", "redis"]) {
      const mod = await import("${pkg.name}/" + sub);
      if ("default" in mod) throw new Error(sub + " has a default export");
      names[sub] = Object.keys(mod).sort();
    }
    console.log(JSON.stringify(names));`;
  writeFileSync(join(scratch, "imports.mjs"), script);
  const names = JSON.parse(run(process.execPath, ["imports.mjs"], scratch)) as Record<string, string[]>;
  expect(names.core).toEqual(
    expect.arrayContaining([
      "EventStreamEncoder",
      "EventStreamParser",
      "EventStreamSizeError",
      "createParser",
      "encodeEvent",
      "eventStreamResponse",
      "parseEventStream",
      "toEventStream",
    ]),
  );
  expect(names.chat).toEqual(
    expect.arrayContaining(["createChatApp", "createMemoryHub", "openAIResponder", "typewriterResponder"]),
  );
  expect(names.node).toContain("serve");
  expect(names.bun).toContain("serve");
  expect(names.deno).toContain("serve");
  // The Redis entry resolves its client from the consumer's install (a dependency, not bundled).
  expect(names.redis).toEqual(["connectRedis", "createRedisHub"]);
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

test("npx eddy serve from the installed tarball serves the page and a room", async () => {
  const bin = join(scratch, "node_modules", ".bin", "eddy");
  expect(run(bin, ["--version"], scratch).trim()).toBe(version);
  const child = spawn(bin, ["serve", "--port", "0", "--rate-limit", "off"], { cwd: scratch, env, stdio: "pipe" });
  try {
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk));
    const url = await waitFor(() => /eddy listening on (http:\S+)/.exec(output)?.[1], {
      timeoutMs: 20_000,
      what: "eddy serve's listening line",
    });
    const page = await fetch(url);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await page.text()).toContain("<script");
    // The page's script and its strings, as the browser asks for them (module scripts need a JavaScript type).
    for (const [path, text] of [
      ["/chat.js", 'from "./i18n/languages.js"'],
      ["/i18n/languages.js", 'from "./ko.js"'],
      ["/i18n/en.js", '"Join"'],
      ["/i18n/ko.js", '"입장"'],
    ] as const) {
      const asset = await fetch(new URL(path, url));
      expect(asset.status, path).toBe(200);
      expect(asset.headers.get("content-type"), path).toBe("text/javascript; charset=utf-8");
      expect(await asset.text(), path).toContain(text);
    }
    const posted = await fetch(new URL("/rooms/pkg/messages", url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ann", text: "from the tarball" }),
    });
    expect(posted.status).toBe(201);
    const events = await fetch(new URL("/rooms/pkg/events", url));
    expect(events.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = events.body!.getReader();
    let text = "";
    while (!text.includes("from the tarball")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    expect(text).toContain('"text":"from the tarball"');
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
});

test("package declarations type-check a consumer", () => {
  writeFileSync(
    join(scratch, "consumer.ts"),
    `
    import { encodeEvent, parseEventStream, type ServerSentEvent } from "${pkg.name}/core";
    import { createChatApp, type ChatApp } from "${pkg.name}/chat";
    const frame: string = encodeEvent({ data: "x" });
    const app: ChatApp = createChatApp({ responder: null });
    async function first(body: ReadableStream<Uint8Array>): Promise<ServerSentEvent | undefined> {
      for await (const event of parseEventStream(body)) return event;
      return undefined;
    }
    export { app, first, frame };
  `,
  );
  writeFileSync(
    join(scratch, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: "nodenext",
        moduleResolution: "nodenext",
        target: "es2022",
        lib: ["es2023", "dom", "dom.asynciterable"],
        types: [],
        skipLibCheck: false,
      },
      files: ["consumer.ts"],
    }),
  );
  // Throws with tsc's diagnostics in the message if the shipped declarations do not resolve.
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  expect(() => run(process.execPath, [tsc, "-p", "tsconfig.json"], scratch)).not.toThrow();
});

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}
