/**
 * Every fenced code block in the JSDoc of core/, adapters/ and cli/ (the `@example`s) is run as its
 * own test, "<file> example <n>: <title>", on the runtime it is written for: adapters/bun.ts on Bun,
 * adapters/deno.ts on Deno, everything else on Node. An example passes when its process exits with 0
 * within RUN_TIMEOUT_MS, so one that throws, rejects, fails an assertion or never ends fails here;
 * the same blocks are type-checked by `deno check --doc-only` (.ci/run).
 * Marker: a block fenced ```ts no-run is type-checked but not run (Deno ignores the unknown word;
 * `ignore` would skip its type check too), for examples that serve forever or need the network.
 *
 * Node has no TypeScript of its own before 22: the sources are transpiled once here with esbuild
 * (what tsx does on every start) and served under their own file URLs by a small loader hook, so an
 * example costs one plain `node` start (about half of `node --import tsx`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { transform } from "esbuild";
import { afterAll, expect, test } from "vitest";

const ROOT = new URL("..", import.meta.url).pathname;
const DIRS = ["core", "adapters", "redis", "cli"];
/** Per run; a healthy example ends in well under a second, a loaded 2-core machine needs margin. */
const RUN_TIMEOUT_MS = 15_000;

type Example = {
  file: string; // relative to ROOT
  n: number; // 1-based, per file
  line: number; // the fence's line, 1-based
  title: string;
  attributes: string[];
  code: string;
};

/** The files whose examples need another runtime; Bun and Deno run the example's TypeScript as is. */
const RUNTIMES: Record<string, { name: string; command: readonly string[] }> = {
  "adapters/bun.ts": { name: "bun", command: [join(ROOT, "node_modules/.bin/bun"), "run"] },
  "adapters/deno.ts": {
    name: "deno",
    command: [join(ROOT, "node_modules/.bin/deno"), "run", "--no-config", "--no-check", "--allow-net"],
  },
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
      return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
    });
}

/** The fenced blocks of each `/** ... *\/` comment, titled by their `@example` caption or declaration. */
function examplesOf(file: string): Example[] {
  const lines = readFileSync(join(ROOT, file), "utf8").split("\n");
  const examples: Example[] = [];
  let inDoc = false;
  let start = 0;
  let caption = "";
  let pending: Omit<Example, "title"> | undefined;
  let titled: Omit<Example, "title">[] = [];
  let captions: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!inDoc) {
      if (/^\s*\/\*\*/.test(line)) {
        inDoc = true;
        start = i;
        caption = "";
        titled = [];
        captions = [];
      } else {
        continue;
      }
    }
    const text = line.replace(/^\s*(\/\*\*|\*\/|\*)? ?/, "");
    if (pending) {
      if (/^\s*```\s*$/.test(text)) {
        titled.push(pending);
        captions.push(caption);
        pending = undefined;
      } else {
        pending.code += text + "\n";
      }
      continue;
    }
    const tag = /^\s*@example\b\s*(.*)$/.exec(text);
    if (tag) caption = tag[1]!.trim();
    else if (/^\s*@\w/.test(text)) caption = "";
    const fence = /^\s*```\s*(\S+)?\s*(.*)$/.exec(text);
    if (fence && /^(ts|typescript|js|javascript|mts|mjs|tsx|jsx)?$/.test(fence[1] ?? "")) {
      pending = {
        file,
        n: 0,
        line: i + 1,
        attributes: (fence[2] ?? "").split(/\s+/).filter(Boolean),
        code: "",
      };
    }
    if (/\*\/\s*$/.test(line)) {
      inDoc = false;
      // The declaration the comment documents names its untitled examples.
      const next = lines.slice(i + 1).find((l) => l.trim() !== "") ?? "";
      const declared =
        /^(?:export\s+)?(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:function\*?|class|const|let|type|interface)\s+([\w$]+)/.exec(
          next.trim(),
        )?.[1];
      const fallback = declared ?? (lines.slice(start, i + 1).some((l) => /@module\b/.test(l)) ? "module" : "example");
      for (const [k, example] of titled.entries()) {
        examples.push({ ...example, n: examples.length + 1, title: captions[k] || fallback });
      }
    }
  }
  return examples;
}

/**
 * The example's code with its relative imports made absolute, so it runs from anywhere, and its
 * lines where they are in the documented file, so an error's line number points into the comment.
 */
function moduleSource(example: Example): string {
  const base = pathToFileURL(join(ROOT, example.file));
  return (
    "\n".repeat(example.line) +
    example.code.replace(
      /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.\.?\/[^"']*)\2/g,
      (_match, keyword: string, quote: string, specifier: string) =>
        `${keyword}${quote}${new URL(specifier, base).href}${quote}`,
    )
  );
}

// About one example per core at once (the other test files run beside this one), plus one: an
// example that waits (a server's shutdown) leaves its core to the others.
let slots = availableParallelism() + 1;
const waiting: (() => void)[] = [];
async function inSlot<T>(run: () => Promise<T>): Promise<T> {
  if (slots === 0) await new Promise<void>((resolve) => waiting.push(resolve));
  else slots--;
  try {
    return await run();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else slots++;
  }
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) stop(child);
});
function stop(child: ChildProcess): void {
  // Its own process group (detached): a runtime's helper processes go with it.
  try {
    if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
  } catch {
    child.kill("SIGKILL");
  }
}

// The chat server's settings (cli/_config.ts reads them) stay out, so examples see the defaults.
const exampleEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(HOST|PORT|EDDY_.*|OPENAI_.*)$/.test(key)),
);
exampleEnv.NO_COLOR = "1";

type Run = { code: number | null; signal: string | null; output: string; timedOut: boolean };

function runModule(command: readonly string[], path: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, [...command.slice(1), path], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: exampleEnv,
    });
    running.add(child);
    let output = "";
    const collect = (chunk: Buffer) => {
      if (output.length < 20_000) output += chunk.toString("utf8");
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      stop(child);
    }, RUN_TIMEOUT_MS);
    const finish = (code: number | null, signal: string | null) => {
      clearTimeout(timer);
      running.delete(child);
      stop(child); // anything the example left behind in its group
      resolve({ code, signal, output, timedOut });
    };
    child.on("error", (error) => {
      output += String(error);
      finish(null, null);
    });
    child.on("close", finish);
  });
}

const scratch = mkdtempSync(join(tmpdir(), "eddy-doc-examples-"));
writeFileSync(join(scratch, "package.json"), '{ "type": "module" }\n'); // the examples are ESM (top-level await)
afterAll(() => {
  for (const child of running) stop(child);
  rmSync(scratch, { recursive: true, force: true });
});

const files = DIRS.flatMap(sourceFiles);
const examples = files.flatMap(examplesOf);

// TypeScript to JavaScript as tsx would (same esbuild, the project's tsconfig), once per file.
const tsconfigRaw = readFileSync(join(ROOT, "tsconfig.json"), "utf8");
const toJavaScript = async (code: string, sourcefile: string) =>
  (
    await transform(code, {
      loader: "ts",
      format: "esm",
      target: "es2022",
      sourcemap: "inline",
      sourcefile,
      tsconfigRaw,
    })
  ).code;
const compiled = join(scratch, "compiled");
mkdirSync(compiled);
const rootUrl = pathToFileURL(ROOT).href;
await Promise.all(
  files.map(async (file) => {
    const source = readFileSync(join(ROOT, file), "utf8");
    writeFileSync(join(compiled, encodeURIComponent(file)), await toJavaScript(source, join(ROOT, file)));
  }),
);
const hooks = join(scratch, "hooks.mjs");
writeFileSync(
  hooks,
  `import { readFileSync } from "node:fs";
export async function load(url, context, nextLoad) {
  if (url.startsWith(${JSON.stringify(rootUrl)}) && url.endsWith(".ts")) {
    const path = ${JSON.stringify(compiled + "/")} + encodeURIComponent(url.slice(${rootUrl.length}));
    return { format: "module", source: readFileSync(path, "utf8"), shortCircuit: true };
  }
  return nextLoad(url, context);
}
`,
);
const register = join(scratch, "register.mjs");
writeFileSync(
  register,
  `import { register } from "node:module";\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`,
);
const NODE = { name: "node", command: [process.execPath, "--enable-source-maps", "--import", register] };

test("the doc examples are found", () => {
  expect(examples.length).toBeGreaterThan(90);
});

for (const example of examples) {
  const name = `${example.file} example ${example.n}: ${example.title}`;
  const skip = example.attributes.includes("no-run") || example.attributes.includes("ignore");
  (skip ? test.skip : test.concurrent)(name, { timeout: 4 * RUN_TIMEOUT_MS }, async () => {
    const stem = join(scratch, `${example.file.replace(/[/.]/g, "_")}-${example.n}`);
    const own = RUNTIMES[example.file];
    const source = moduleSource(example);
    const path = own ? `${stem}.ts` : `${stem}.mjs`;
    writeFileSync(path, own ? source : await toJavaScript(source, join(ROOT, example.file)));
    const runtime = own ?? NODE;
    const run = await inSlot(() => runModule(runtime.command, path));
    const where = `${example.file}:${example.line} on ${runtime.name}`;
    expect(
      run.timedOut,
      `${where} did not end within ${RUN_TIMEOUT_MS} ms (an example that serves forever needs \`\`\`ts no-run):\n${run.output}`,
    ).toBe(false);
    expect(run.code, `${where} exited with ${run.code ?? run.signal}:\n${run.output}`).toBe(0);
  });
}
