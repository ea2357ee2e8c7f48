/**
 * Builds dist/: esbuild bundles each public entry to ESM JavaScript (code shared between entries
 * is split into common chunks, so the core ships once), the cost of importing `eddy-sse/core` is
 * checked against its gzip budget, tsc emits the .d.ts files, and the `exports` map of
 * package.json is checked against what was built. `npm pack` runs it first (the `prepack` script).
 *
 * Usage: npm run build   (exit 1 on an exports mismatch or a core over its budget)
 */
import { readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { build, type Metafile } from "esbuild";
import { checkBudget, importCost } from "./_bundle-size.ts";

/** Public entry name → source. Each is a subpath export `./<name>` of the package. */
export const ENTRIES = {
  core: "core/mod.ts",
  chat: "core/chat/mod.ts",
  node: "adapters/node.ts",
  bun: "adapters/bun.ts",
  deno: "adapters/deno.ts",
  redis: "redis/mod.ts",
} as const;

/**
 * Ceiling, in gzip bytes, on what `import "eddy-sse/core"` loads: dist/core.js plus the chunks it
 * statically imports, each gzipped. Set at 8.5 KiB when core measured 7.0 KiB (7 187 bytes), and
 * 7.4 KiB (7 579 bytes) with the entry renames then in progress: 15-20% headroom. Raised to 12 KiB
 * when the push path for fan-out (push sources, attachSink, the shared heartbeat timer, slow-reader
 * bounds) and the JSON answers came in at 10.0 KiB (10 201 bytes). Raised to 21 KiB when the
 * client came in (`connect`: reconnects, backoff, watchdog, ~4.9 KiB) with the typed events
 * (`defineEvents`) and the direct write path of the fan-out work, at 18.2 KiB (18 603 bytes):
 * core is now both ends of the protocol. Raised to 24 KiB when the parser's decoding for non-ASCII
 * text (lines kept as bytes over small chunks, then the decoder race that picks the faster
 * `TextDecoder` call per engine, which doubled Deno's speed on Korean text) brought it to 21.7 KiB
 * (22 194 bytes; 20.7 without the race). A bundler that tree-shakes (the package has no side
 * effects) still takes only what is imported. Raise it only on purpose, in its own commit saying why.
 */
export const CORE_GZIP_BUDGET = 24 * 1024;

const root = fileURLToPath(new URL("..", import.meta.url));

/** esbuild, as the package ships it, into `outdir` (absolute). */
export async function bundle(outdir: string): Promise<Metafile> {
  const result = await build({
    absWorkingDir: root,
    entryPoints: ENTRIES,
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    // The Redis client stays a dependency the user's install resolves, not a copy in dist/.
    external: ["node:*", "@redis/client"],
    sourcemap: true,
    legalComments: "none",
    metafile: true,
    logLevel: "warning",
  });
  return result.metafile;
}

/** The `eddy` command (package.json `bin`): the program of cli/, for Node, in one file. */
export const BIN = { source: "cli/eddy.ts", output: "eddy.js" } as const;

/**
 * The `eddy` command bundled for Node into `outdir`/eddy.js, with its shebang. It finds the page
 * (`web/`, shipped in the package) by walking up from itself, as the program does from `cli/`.
 */
export async function bundleBin(outdir: string): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints: [BIN.source],
    outfile: join(outdir, BIN.output),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["@redis/client"],
    banner: { js: "#!/usr/bin/env node" },
    legalComments: "none",
    logLevel: "warning",
  });
}

/**
 * The whole build into `outdir` (default dist/), which it empties first.
 *
 * @param coreBudget Gzip ceiling for `eddy-sse/core` (tests pass a tiny one to see the build fail).
 * @returns The exit code: 0, or 1 after printing what is wrong.
 */
export async function buildDist(outdir = join(root, "dist"), coreBudget = CORE_GZIP_BUDGET): Promise<number> {
  rmSync(outdir, { recursive: true, force: true });
  const metafile = await bundle(outdir);
  await bundleBin(outdir);

  // Fail fast, before the declarations: the budget is about the JavaScript a user downloads.
  const coreOutput = relative(root, join(outdir, "core.js")).split("\\").join("/");
  const budget = checkBudget("core", importCost(metafile, coreOutput, root), coreBudget);
  console.log(budget.line);
  if (budget.error !== undefined) {
    console.error(`build: ${budget.error}`);
    return 1;
  }

  // Declarations: tsc writes them with the sources' `.ts` specifiers; published files point at `.js`.
  const tsc = join(root, "node_modules/typescript/bin/tsc");
  const types = join(outdir, "types");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--declarationDir", types], {
    cwd: root,
    stdio: "inherit",
  });
  let declarations = 0;
  for (const file of walk(types)) {
    if (!file.endsWith(".d.ts")) continue;
    const text = readFileSync(file, "utf8");
    writeFileSync(file, text.replace(/(from\s+["']|import\(["'])(\.{1,2}\/[^"']+?)\.ts(["'])/g, "$1$2.js$3"));
    declarations++;
  }

  // The exports map must name exactly the entries built here, each with types and default.
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
    exports: Record<string, unknown>;
    bin?: Record<string, string>;
  };
  const problems: string[] = [];
  for (const [name, source] of Object.entries(ENTRIES)) {
    const entry = pkg.exports[`./${name}`] as { types?: string; default?: string } | undefined;
    const declaration = source.replace(/\.ts$/, ".d.ts");
    if (entry?.default !== `./dist/${name}.js`) {
      problems.push(`exports["./${name}"].default must be "./dist/${name}.js"`);
    }
    if (entry?.types !== `./dist/types/${declaration}`) {
      problems.push(`exports["./${name}"].types must be "./dist/types/${declaration}"`);
    }
    if (!exists(join(types, declaration))) problems.push(`types/${declaration} was not emitted`);
  }
  if (pkg.bin?.eddy !== `./dist/${BIN.output}` && pkg.bin?.eddy !== `dist/${BIN.output}`) {
    problems.push(`bin.eddy must be "./dist/${BIN.output}"`);
  }
  for (const key of Object.keys(pkg.exports)) {
    if (key !== "./package.json" && !(key.slice(2) in ENTRIES)) {
      problems.push(`exports["${key}"] is not built by scripts/build.ts`);
    }
  }
  if (problems.length > 0) {
    console.error(`build: package.json exports do not match the build:\n  ${problems.join("\n  ")}`);
    return 1;
  }

  const outputs = Object.entries(metafile.outputs).filter(([file]) => file.endsWith(".js"));
  for (const [file, output] of outputs) {
    console.log(`${file.padEnd(28)} ${(output.bytes / 1024).toFixed(1).padStart(7)} KiB`);
  }
  const bin = statSync(join(outdir, BIN.output)).size;
  console.log(
    `${relative(root, join(outdir, BIN.output)).padEnd(28)} ${(bin / 1024).toFixed(1).padStart(7)} KiB  (the eddy command)`,
  );
  const where = relative(root, outdir);
  console.log(`build: ${outputs.length} JavaScript files, ${declarations} declaration files in ${where}/`);
  return 0;
}

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** True when this file is the process's entry script (`tsx scripts/build.ts`), not an import. */
function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) process.exitCode = await buildDist();
