/**
 * The core's conformance, chunking, round-trip and stream tests, run again under Bun and Deno:
 * vitest itself is started with each runtime (so the tests execute on its streams, TextDecoder
 * and timers), and every inner result becomes one test here whose name starts with the runtime.
 * A runtime difference therefore shows up as a named failure, e.g. "[deno] createParser ...".
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";

/**
 * The runtime-neutral test files: they import core/ and test helpers only, plus node:http for a
 * local server (connect-server: the client over a real socket, with the runtime's own fetch).
 */
const CORE_TESTS = [
  "test/parse.test.ts",
  "test/encode.test.ts",
  "test/chunking.test.ts",
  "test/properties.test.ts",
  "test/parse-event-stream.test.ts",
  "test/to-event-stream.test.ts",
  "test/encoded-event.test.ts",
  "test/connect.test.ts",
  "test/connect-server.test.ts",
];

const root = new URL("..", import.meta.url).pathname;
const RUNTIMES = {
  bun: [join(root, "node_modules/.bin/bun"), "node_modules/vitest/vitest.mjs"],
  deno: [join(root, "node_modules/.bin/deno"), "run", "-A", "node_modules/vitest/vitest.mjs"],
} as const;

type Inner = { name: string; status: string; failure: string };
type Outcome = { runtime: string; results: Inner[]; error?: string };

async function runUnder(runtime: keyof typeof RUNTIMES): Promise<Outcome> {
  const [command, ...args] = RUNTIMES[runtime];
  const dir = mkdtempSync(join(tmpdir(), `eddy-${runtime}-`));
  const out = join(dir, "results.json");
  const outcome = await new Promise<Outcome>((resolve) => {
    execFile(
      command,
      [...args, "run", ...CORE_TESTS, "--reporter=json", `--outputFile=${out}`],
      { cwd: root, timeout: 240_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, NO_COLOR: "1" } },
      (error, _stdout, stderr) => {
        try {
          const report = JSON.parse(readFileSync(out, "utf8")) as {
            testResults: {
              name: string;
              message?: string;
              assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
            }[];
          };
          const results: Inner[] = [];
          for (const file of report.testResults) {
            if (file.assertionResults.length === 0) {
              results.push({
                name: `${file.name.replace(root, "")} (file)`,
                status: "failed",
                failure: file.message ?? "the file did not run",
              });
            }
            for (const inner of file.assertionResults) {
              results.push({ name: inner.fullName, status: inner.status, failure: inner.failureMessages.join("\n") });
            }
          }
          resolve({ runtime, results });
        } catch (reason) {
          resolve({
            runtime,
            results: [],
            error: `${runtime} did not produce results (${String(reason)}): ${error?.message ?? ""}\n${stderr.slice(-4000)}`,
          });
        }
      },
    );
  });
  rmSync(dir, { recursive: true, force: true });
  return outcome;
}

// Run both runtimes while the file is collected, so each inner result can become its own test.
const outcomes = await Promise.all([runUnder("bun"), runUnder("deno")]);

for (const outcome of outcomes) {
  test(`[${outcome.runtime}] the core suite runs`, () => {
    expect(outcome.error, outcome.error).toBeUndefined();
    expect(outcome.results.length).toBeGreaterThan(100);
  });
  for (const inner of outcome.results) {
    // Skipped or todo tests stay visible as such.
    const define = inner.status === "passed" || inner.status === "failed" ? test : test.skip;
    define(`[${outcome.runtime}] ${inner.name}`, () => {
      expect(inner.status, inner.failure).toBe("passed");
    });
  }
}
