/**
 * The decoder race (core/_decoder-race.ts) and the line layer under every choice it can make:
 * the text must be the same whichever decoder takes a long non-ASCII segment, and whenever the
 * choice changes, because the race follows timings, which no test can pin down.
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { DecoderRace } from "../core/_decoder-race.ts";
import { chunksOf, concat, intlBytes, splitAt } from "./_arbitraries.ts";
import { runLines, runPush, scriptedRace } from "./_harness.ts";
import { specParse } from "./_spec-parser.ts";

const utf8 = new TextEncoder();

/** Runs `turns` segments through `race`, timing each decoder as `cost` says; returns its picks. */
function drive(race: DecoderRace, turns: number, cost: (oneShot: boolean, turn: number) => number): boolean[] {
  const picks: boolean[] = [];
  for (let turn = 0; turn < turns; turn++) {
    const oneShot = race.oneShotNext();
    picks.push(oneShot);
    race.record(oneShot, cost(oneShot, turn) * 16, 16 * 1024);
  }
  return picks;
}

const runs = (picks: boolean[]): string => picks.map((oneShot) => (oneShot ? "o" : "s")).join("");

test("the race keeps the streaming decoder while it is the faster, trying the other less and less often", () => {
  const race = new DecoderRace();
  const picks = drive(race, 80, (oneShot) => (oneShot ? 2 : 1));
  // 3 streaming, the one-shot decoder's try of 3, then 16, 32, 64... streaming between tries.
  expect(runs(picks)).toBe(`sssooo${"s".repeat(16)}ooo${"s".repeat(32)}ooo${"s".repeat(20)}`);
  expect(race.oneShotWins).toBe(false);
});

test("the race takes the one-shot decoder once its try is faster, and goes back when that changes", () => {
  const race = new DecoderRace();
  // One-shot at half the cost until turn 40, then at twice the cost.
  const picks = drive(race, 82, (oneShot, turn) => (oneShot ? (turn < 40 ? 0.5 : 2) : 1));
  const o = (n: number) => "o".repeat(n);
  const s = (n: number) => "s".repeat(n);
  // One-shot wins its first try; streaming's tries after 8, 16 and 32 segments lose until the
  // one-shot decoder slows down, and the try after that takes streaming back.
  expect(runs(picks)).toBe(`${s(3)}${o(3)}${o(8)}${s(3)}${o(16)}${s(3)}${o(32)}${s(3)}${s(8)}${o(3)}`);
  expect(race.oneShotWins).toBe(false);
});

test("one slow sample, as from a preempted call, does not flip the race", () => {
  const race = new DecoderRace();
  // Streaming is the faster, but one of its three samples before the one-shot decoder's try is
  // 50 times slower than the others; the median of three ignores it.
  const picks = drive(race, 30, (oneShot, turn) => (oneShot ? 2 : turn === 1 ? 50 : 1));
  expect(race.oneShotWins).toBe(false);
  expect(picks.slice(6, 14).every((oneShot) => !oneShot)).toBe(true);
});

test("the race tries the slower decoder at most every 1024 segments", () => {
  const race = new DecoderRace();
  const picks = drive(race, 6000, (oneShot) => (oneShot ? 2 : 1));
  const tries = runs(picks)
    .split(/s+/)
    .filter((run) => run !== "");
  expect(tries.every((run) => run === "ooo")).toBe(true);
  // Gaps 8, 16, ..., 1024, then 1024 again: 8+16+...+1024 = 2040 segments for the first 8 gaps.
  expect(runs(picks).slice(-2000).split("ooo").length - 1).toBeLessThanOrEqual(2);
});

/** Lines alternating ASCII and non-ASCII, short and long, with invalid bytes: over 40 KiB. */
function longIntlStream(): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let i = 0; i < 240; i++) {
    const intl = `data: ${"한국어 메시지 😀 🇰🇷 👨‍👩‍👧 crème brûlée ".repeat(1 + (i % 9))}${i}`;
    const ascii = `data: ${"ascii text ".repeat(1 + (i % 13))}${i}`;
    parts.push(utf8.encode(`${i % 4 === 0 ? ascii : intl}\n${i % 3 === 0 ? `id: é${i}\n` : ""}`));
    if (i % 17 === 0) parts.push(Uint8Array.from([0x64, 0x61, 0x74, 0x61, 0x3a, 0xe2, 0x82, 0x0a])); // data:<E2 82>
    if (i % 2 === 1) parts.push(utf8.encode(i % 6 === 1 ? "\r\n" : "\n"));
  }
  return concat([...parts, utf8.encode("\n")]);
}

test("the line layer decodes long non-ASCII text the same whichever decoder the race picks, and whenever it switches", () => {
  const bytes = longIntlStream();
  expect(bytes.length).toBeGreaterThan(40_000);
  const spec = specParse(bytes);
  expect(spec.events.length).toBeGreaterThan(100);
  const scripts: boolean[][] = [[true], [false], [true, false], [false, false, true], [true, true, false, true]];
  for (const script of scripts) {
    for (const size of [4096, 4097, 4098, 4099, 5000, 8191, 16_384, 16_387, 65_536]) {
      const race = scriptedRace(script);
      expect(runLines(chunksOf(bytes, size), race), `script ${script}, ${size}-byte chunks`).toEqual(spec);
      // The timed path ran: the test would pass vacuously if no segment reached the race.
      expect(race.turns, `script ${script}, ${size}-byte chunks`).toBeGreaterThan(0);
    }
    // Two large chunks, cut every 61 bytes through the first 8 KiB (through characters and
    // invalid sequences alike).
    for (let at = 4096; at < 12_288; at += 61) {
      const race = scriptedRace(script);
      expect(runLines([bytes.subarray(0, at), bytes.subarray(at)], race), `script ${script}, split at ${at}`).toEqual(
        spec,
      );
    }
  }
  // And with the program's own race, as createParser uses it.
  expect(runPush(chunksOf(bytes, 16_384))).toEqual(spec);
});

test("the line layer agrees with the spec on long non-ASCII streams in large chunks, for any race script", () => {
  const longBytes = fc.array(intlBytes, { minLength: 1, maxLength: 8 }).map((parts) => {
    const unit = concat(parts);
    if (unit.length === 0) return unit;
    return concat(Array.from({ length: Math.ceil(9000 / unit.length) }, () => unit));
  });
  fc.assert(
    fc.property(
      longBytes,
      fc.array(fc.boolean(), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 4096, max: 12_000 }),
      fc.array(fc.nat(), { maxLength: 6 }),
      (bytes, script, size, points) => {
        const spec = specParse(bytes);
        expect(runLines(chunksOf(bytes, size), scriptedRace(script))).toEqual(spec);
        expect(runLines(splitAt(bytes, points), scriptedRace(script))).toEqual(spec);
      },
    ),
    { numRuns: process.env.CI ? 150 : 60 },
  );
});
