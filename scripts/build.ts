/**
 * Builds dist/: esbuild bundles each public entry to ESM JavaScript (code shared between entries
 * is split into common chunks, so the core ships once), tsc emits the .d.ts files, and the
 * `exports` map of package.json is checked against what was built.
 *
 * Usage: npm run build
 */
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { build } from "esbuild";

/** Public entry name → source. Each is a subpath export `./<name>` of the package. */
export const ENTRIES = {
  core: "core/mod.ts",
  chat: "core/chat/mod.ts",
  node: "adapters/node.ts",
  bun: "adapters/bun.ts",
  deno: "adapters/deno.ts",
} as const;

const root = new URL("..", import.meta.url).pathname;
const dist = join(root, "dist");

rmSync(dist, { recursive: true, force: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: ENTRIES,
  outdir: "dist",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "neutral",
  target: "es2022",
  external: ["node:*"],
  sourcemap: true,
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

// Declarations: tsc writes them with the sources' `.ts` specifiers; published files point at `.js`.
execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
let declarations = 0;
for (const file of walk(join(dist, "types"))) {
  if (!file.endsWith(".d.ts")) continue;
  const text = readFileSync(file, "utf8");
  writeFileSync(file, text.replace(/(from\s+["']|import\(["'])(\.{1,2}\/[^"']+?)\.ts(["'])/g, "$1$2.js$3"));
  declarations++;
}

// The exports map must name exactly the entries built here, each with types and default.
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { exports: Record<string, unknown> };
const problems: string[] = [];
for (const [name, source] of Object.entries(ENTRIES)) {
  const entry = pkg.exports[`./${name}`] as { types?: string; default?: string } | undefined;
  const types = `./dist/types/${source.replace(/\.ts$/, ".d.ts")}`;
  if (entry?.default !== `./dist/${name}.js`) problems.push(`exports["./${name}"].default must be "./dist/${name}.js"`);
  if (entry?.types !== types) problems.push(`exports["./${name}"].types must be "${types}"`);
  if (!exists(join(root, types))) problems.push(`${types} was not emitted`);
}
for (const key of Object.keys(pkg.exports)) {
  if (key !== "./package.json" && !(key.slice(2) in ENTRIES)) problems.push(`exports["${key}"] is not built by scripts/build.ts`);
}
if (problems.length > 0) {
  console.error(`build: package.json exports do not match the build:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}

const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith(".js"));
for (const [file, output] of outputs) console.log(`${file.padEnd(28)} ${(output.bytes / 1024).toFixed(1).padStart(7)} KiB`);
console.log(`build: ${outputs.length} JavaScript files, ${declarations} declaration files in dist/`);

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
