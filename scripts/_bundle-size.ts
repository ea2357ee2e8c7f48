/**
 * What importing one built entry really costs: the entry's file plus every chunk it reaches through
 * static imports (a dynamic `import()` loads only when called, so it is left out), each file gzipped
 * on its own, as a server or CDN would send it. scripts/build.ts holds eddy-sse/core to a budget
 * with it.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import type { Metafile } from "esbuild";

/** The cost of importing one entry: its files (entry first) and the sum of their gzip sizes. */
export type ImportCost = { entry: string; files: { path: string; gzip: number }[]; gzip: number };

/**
 * The outputs an entry loads before it runs: itself and, transitively, the chunks it imports with
 * `import ... from` (not `import()`, not externals such as `node:*`).
 *
 * @param metafile esbuild's metafile of the build (output paths relative to its working directory).
 * @param entry The entry's output path as the metafile names it, e.g. `dist/core.js`.
 * @returns Output paths, the entry first, each once.
 * @throws {Error} If `entry` (or a chunk it imports) is not an output of that build.
 */
export function staticImportClosure(metafile: Metafile, entry: string): string[] {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    if (seen.has(file)) continue;
    const output = metafile.outputs[file];
    if (output === undefined) throw new Error(`${file} is not an output of this build`);
    seen.add(file);
    for (const imported of output.imports) {
      if (imported.kind === "import-statement" && imported.external !== true) queue.push(imported.path);
    }
  }
  return [...seen];
}

/**
 * Measures {@link staticImportClosure} of `entry` on disk, each file gzipped with node:zlib's
 * default level.
 *
 * @param metafile esbuild's metafile of a build that wrote its files.
 * @param entry The entry's output path as the metafile names it, e.g. `dist/core.js`.
 * @param workingDir The build's `absWorkingDir` (the metafile's paths are relative to it).
 */
export function importCost(metafile: Metafile, entry: string, workingDir: string): ImportCost {
  const files = staticImportClosure(metafile, entry).map((path) => ({
    path,
    gzip: gzipSync(readFileSync(resolve(workingDir, path))).byteLength,
  }));
  return { entry, files, gzip: files.reduce((sum, file) => sum + file.gzip, 0) };
}

/** `1536` → `"1.5 KiB"`, `6144` → `"6 KiB"`. */
function kib(bytes: number): string {
  return `${Number((bytes / 1024).toFixed(1))} KiB`;
}

/**
 * Compares a measured cost with its ceiling.
 *
 * @param name What is measured, e.g. `core`.
 * @param cost From {@link importCost}.
 * @param ceiling The budget in gzip bytes.
 * @returns `line`, always printed (`core: 5.1 KiB gzip (budget 6 KiB)`), and, when the cost is over
 *   the ceiling, `error`: the ceiling, the measured size and the files that make it up.
 */
export function checkBudget(name: string, cost: ImportCost, ceiling: number): { line: string; error?: string } {
  const line = `${name}: ${kib(cost.gzip)} gzip (budget ${kib(ceiling)})`;
  if (cost.gzip <= ceiling) return { line };
  const files = cost.files.map((file) => `${file.path} ${file.gzip} B`).join(", ");
  return {
    line,
    error:
      `${name} is over its bundle-size budget: ${cost.gzip} bytes gzip (${kib(cost.gzip)}) measured, ` +
      `ceiling ${ceiling} bytes (${kib(ceiling)}); ${cost.entry} and the chunks it imports: ${files}`,
  };
}
