// The benchmarks' case processes (scripts/_case-process.ts): the input survives the trip, and a
// child serves its case over stdin/stdout, reports its failures and ends when told.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CaseProcess, encodeInput, reviveInput } from "../scripts/_case-process.ts";

describe("encodeInput / reviveInput", () => {
  it("carries byte arrays (views into larger buffers too) as plain Uint8Arrays, and the rest as is", () => {
    const whole = new Uint8Array(300);
    for (let i = 0; i < whole.length; i++) whole[i] = (i * 7) & 0xff;
    const view = whole.subarray(5, 261);
    const input = { bytes: view, cuts: [3, 100, 256], nested: { empty: new Uint8Array(0), name: "한국어" } };
    const back = reviveInput(encodeInput(input)) as typeof input;
    expect(back.cuts).toEqual([3, 100, 256]);
    expect(back.nested.name).toBe("한국어");
    expect(Object.getPrototypeOf(back.bytes)).toBe(Uint8Array.prototype);
    expect(Array.from(back.bytes)).toEqual(Array.from(view));
    expect(back.nested.empty).toBeInstanceOf(Uint8Array);
    expect(back.nested.empty.length).toBe(0);
  });
});

describe("CaseProcess", () => {
  let dir: string;
  let bundle: URL;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "eddy-case-process-"));
    const entry = join(dir, "child.ts");
    const module = fileURLToPath(new URL("../scripts/_case-process.ts", import.meta.url));
    // A case that sums the loaded bytes; `passes: 0` makes it fail, as a broken case would.
    writeFileSync(
      entry,
      `import { serveOverStdio, CASE_ENV } from ${JSON.stringify(module)};
       let bytes = new Uint8Array(0);
       console.log("a line that is not a reply");
       serveOverStdio(async (message) => {
         if ("load" in message) { bytes = message.load.bytes; return { ok: true, wall: 0, cpu: 0 }; }
         if (message.passes === 0) return { ok: false, message: "no passes for " + process.env[CASE_ENV], correctness: true };
         let sum = 0;
         for (const b of bytes) sum += b;
         return { ok: true, wall: sum, cpu: message.passes };
       });`,
    );
    const outfile = join(dir, "child.mjs");
    await build({ entryPoints: [entry], outfile, bundle: true, format: "esm", platform: "node", logLevel: "error" });
    bundle = pathToFileURL(outfile);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("loads the input in the child, answers each message in order, and ends on terminate", async () => {
    const child = new CaseProcess(bundle, "sum", "the sum case");
    try {
      expect(await child.send({ load: { bytes: new Uint8Array([1, 2, 250]) } })).toEqual({ ok: true, wall: 0, cpu: 0 });
      expect(await child.send({ passes: 3 })).toEqual({ ok: true, wall: 253, cpu: 3 });
      expect(await child.send({ passes: 0 })).toEqual({ ok: false, message: "no passes for sum", correctness: true });
      expect(await child.send({ passes: 1 })).toEqual({ ok: true, wall: 253, cpu: 1 });
    } finally {
      await child.terminate();
    }
    await expect(child.send({ passes: 1 })).rejects.toThrow("the process for the sum case was ended");
  });
});
