/**
 * The bundle-size budget of `eddy-sse/core` (scripts/build.ts, scripts/_bundle-size.ts): the cost
 * counts dist/core.js and every chunk it statically imports, today's core fits the ceiling, and
 * the build itself fails with the ceiling and the measured size when it does not.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Metafile } from "esbuild";
import { afterEach, expect, test, vi } from "vitest";
import { CORE_GZIP_BUDGET, buildDist, bundle } from "../scripts/build.ts";
import { checkBudget, importCost, staticImportClosure, type ImportCost } from "../scripts/_bundle-size.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "eddy-bundle-size-"));
  dirs.push(dir);
  return dir;
};

afterEach(() => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

test("the cost follows static imports among chunks, once each, and leaves out import() and externals", () => {
  const output = (imports: { path: string; kind: string; external?: boolean }[]) => ({
    bytes: 1,
    inputs: {},
    imports,
    exports: [],
  });
  const metafile = {
    inputs: {},
    outputs: {
      "dist/core.js": output([
        { path: "dist/chunk-a.js", kind: "import-statement" },
        { path: "dist/lazy.js", kind: "dynamic-import" },
        { path: "node:fs", kind: "import-statement", external: true },
      ]),
      "dist/chunk-a.js": output([
        { path: "dist/chunk-b.js", kind: "import-statement" },
        { path: "dist/core.js", kind: "import-statement" },
      ]),
      "dist/chunk-b.js": output([{ path: "dist/chunk-a.js", kind: "import-statement" }]),
      "dist/lazy.js": output([]),
    },
  } as unknown as Metafile;
  expect(staticImportClosure(metafile, "dist/core.js")).toEqual(["dist/core.js", "dist/chunk-a.js", "dist/chunk-b.js"]);
  expect(() => staticImportClosure(metafile, "dist/nope.js")).toThrow("dist/nope.js is not an output of this build");
});

test("checkBudget passes at the ceiling and reports one byte over it", () => {
  const cost = (gzip: number): ImportCost => ({ entry: "dist/core.js", files: [{ path: "dist/core.js", gzip }], gzip });
  expect(checkBudget("core", cost(6144), 6144)).toEqual({ line: "core: 6 KiB gzip (budget 6 KiB)" });
  const over = checkBudget("core", cost(6145), 6144);
  expect(over.line).toBe("core: 6 KiB gzip (budget 6 KiB)");
  expect(over.error).toBe(
    "core is over its bundle-size budget: 6145 bytes gzip (6 KiB) measured, " +
      "ceiling 6144 bytes (6 KiB); dist/core.js and the chunks it imports: dist/core.js 6145 B",
  );
});

test("eddy-sse/core fits its gzip budget, counting the shared chunks it imports and not the chat", async () => {
  const outdir = scratch();
  const metafile = await bundle(outdir);
  const core = relative(root, join(outdir, "core.js")).split("\\").join("/");
  const cost = importCost(metafile, core, root);
  const code = cost.files.map((file) => readFileSync(resolve(root, file.path), "utf8")).join("\n");
  // The encoder and the parser live in a chunk shared with the chat entry, not in core.js itself.
  expect(cost.files[0]?.path).toBe(core);
  expect(code).toContain("text/event-stream");
  expect(code).toContain("max-event-size");
  expect(code).not.toContain("createChatApp");
  expect(cost.gzip).toBeGreaterThan(cost.files[0]!.gzip);
  expect(cost.gzip, checkBudget("core", cost, CORE_GZIP_BUDGET).line).toBeLessThanOrEqual(CORE_GZIP_BUDGET);
});

test("the build fails, naming the ceiling and the measured size, when eddy-sse/core is over its budget", async () => {
  const outdir = scratch();
  const log = vi.spyOn(console, "log").mockImplementation(() => {});
  const error = vi.spyOn(console, "error").mockImplementation(() => {});
  expect(await buildDist(outdir, 1024)).toBe(1);
  expect(log.mock.calls.map(([line]) => String(line))).toContainEqual(
    expect.stringMatching(/^core: \d+(\.\d)? KiB gzip \(budget 1 KiB\)$/),
  );
  expect(error).toHaveBeenCalledTimes(1);
  const message = String(error.mock.calls[0]?.[0]);
  expect(message).toMatch(/^build: core is over its bundle-size budget: \d+ bytes gzip \(\d+(\.\d)? KiB\) measured, /);
  expect(message).toContain("ceiling 1024 bytes (1 KiB); ");
  // It stopped before the declarations.
  expect(existsSync(join(outdir, "core.js"))).toBe(true);
  expect(existsSync(join(outdir, "types"))).toBe(false);
});
