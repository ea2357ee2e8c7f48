/**
 * Property tests (fast-check). Seeded: `PROPERTY_SEED` by default, `FC_SEED=<n>` to replay; a
 * failure report prints the seed and the shrunk counterexample. Each property stops after a
 * time budget so the whole file runs in a few seconds.
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { encodeEvent } from "../core/mod.ts";
import {
  anyBytes,
  chunksOf,
  cuts,
  eventMessage,
  eventMessages,
  intlBytes,
  PROPERTY_SEED,
  sseBytes,
  splitAt,
} from "./_arbitraries.ts";
import { expectedEvents, lines, runIterate, runPush, runStream, wellFormed } from "./_harness.ts";
import { specParse, specParseText, specSizes } from "./_spec-parser.ts";

const utf8 = new TextEncoder();

/** Runs-and-time budget of one property: whichever runs out first ends it. */
const budget = (numRuns: number, ms: number): fc.Parameters<unknown> => ({
  seed: PROPERTY_SEED,
  numRuns,
  plugins: [fc.interruptAfterTimeLimit(ms)],
});

test("encodeEvent then createParser gives back the same events, however the bytes are split", () => {
  fc.assert(
    fc.property(eventMessages, cuts, (messages, points) => {
      const bytes = utf8.encode(messages.map(encodeEvent).join(""));
      const seen = runPush(splitAt(bytes, points));
      expect(seen.events).toEqual(expectedEvents(messages));
      expect(seen.retries).toEqual(messages.flatMap(({ retry }) => (retry === undefined ? [] : [retry])));
      expect(seen.comments).toEqual(
        messages.flatMap(({ comment }) => (comment === undefined ? [] : lines(comment).split("\n"))),
      );
      const ids = messages.flatMap(({ id }) => (id === undefined ? [] : [wellFormed(id)]));
      expect(seen.lastEventId).toBe(ids.at(-1) ?? "");
    }),
    budget(2_000, 900),
  );
});

test("createParser never throws and gives the same output for any bytes in one chunk, 1-byte chunks or random splits", () => {
  fc.assert(
    fc.property(anyBytes, cuts, (bytes, points) => {
      const whole = runPush([bytes]);
      expect(runPush(chunksOf(bytes, 1))).toEqual(whole);
      expect(runPush(splitAt(bytes, points))).toEqual(whole);
    }),
    budget(2_000, 600),
  );
});

test("EventStreamParser and parseEventStream never fail and match createParser for any bytes and chunking", async () => {
  await fc.assert(
    fc.asyncProperty(anyBytes, cuts, async (bytes, points) => {
      const { events, retries, comments } = runPush([bytes]);
      const whole = { events, retries, comments };
      for (const chunks of [[bytes], chunksOf(bytes, 1), splitAt(bytes, points)]) {
        expect(await runStream(chunks)).toEqual(whole);
        expect(await runIterate(chunks)).toEqual(whole);
      }
    }),
    budget(300, 900),
  );
});

test("encodeEvent never writes an interior blank line", () => {
  fc.assert(
    fc.property(eventMessage, (message) => {
      const frame = encodeEvent(message);
      const dispatches = message.data !== undefined || message.event !== undefined || message.id !== undefined;
      if (frame === "") {
        expect(message).toEqual({});
        return;
      }
      // Every line ends in LF, none with CR; only a dispatching frame's last line is blank.
      expect(frame.endsWith("\n")).toBe(true);
      expect(frame).not.toContain("\r");
      const frameLines = frame.slice(0, -1).split("\n");
      const last = dispatches ? frameLines.pop() : undefined;
      if (dispatches) expect(last).toBe("");
      for (const line of frameLines) expect(line).toMatch(/^(?:data: |event: |id: |retry: |:)/);
      // So the spec reads the frame as one block: one event at most.
      expect(specParseText(frame).events).toHaveLength(message.data === undefined ? 0 : 1);
    }),
    budget(5_000, 500),
  );
});

test("createParser agrees with the spec transcription on arbitrary bytes in arbitrary chunks", () => {
  fc.assert(
    fc.property(fc.oneof(sseBytes, anyBytes), cuts, (bytes, points) => {
      const spec = specParse(bytes);
      expect(runPush(splitAt(bytes, points))).toEqual(spec);
      expect(runPush(chunksOf(bytes, 1))).toEqual(spec);
    }),
    budget(3_000, 900),
  );
});

test("createParser agrees with the spec on non-ASCII text and invalid bytes split at every position", () => {
  fc.assert(
    fc.property(intlBytes, (bytes) => {
      const spec = specParse(bytes);
      // Views into one buffer, as a reader handing out parts of its buffer would.
      for (let at = 0; at <= bytes.length; at++) {
        expect(runPush([bytes.subarray(0, at), bytes.subarray(at)]), `split at ${at}`).toEqual(spec);
      }
    }),
    budget(400, 900),
  );
});

test("createParser agrees with the spec on non-ASCII text and invalid bytes in random and small chunks", () => {
  fc.assert(
    fc.property(intlBytes, cuts, fc.integer({ min: 1, max: 9 }), (bytes, points, size) => {
      const spec = specParse(bytes);
      expect(runPush(splitAt(bytes, points))).toEqual(spec);
      expect(runPush(chunksOf(bytes, size))).toEqual(spec);
    }),
    budget(3_000, 900),
  );
});

test("createParser fed the decoded text in strings cut anywhere (even inside a surrogate pair) agrees with the spec", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // a BOM stays in the text: the parser drops it
  fc.assert(
    fc.property(
      fc.oneof(sseBytes, intlBytes, anyBytes),
      cuts,
      fc.integer({ min: 1, max: 5 }),
      (bytes, points, size) => {
        const spec = specParse(bytes);
        const text = decoder.decode(bytes);
        expect(runPush(splitAt(text, points))).toEqual(spec);
        const small = Array.from({ length: Math.ceil(text.length / size) }, (_, i) =>
          text.slice(i * size, (i + 1) * size),
        );
        expect(runPush(small)).toEqual(spec);
      },
    ),
    budget(3_000, 900),
  );
});

test("createParser fed strings and bytes in turn, cut between characters, agrees with the spec", () => {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  fc.assert(
    fc.property(
      fc.oneof(sseBytes, intlBytes),
      cuts,
      fc.array(fc.boolean(), { minLength: 1 }),
      (bytes, points, asText) => {
        // The text's characters (code points) cut at the points; each piece goes in as text or as its UTF-8 bytes.
        const pieces = splitAt(Array.from(decoder.decode(bytes)), points).map((characters) => characters.join(""));
        const chunks = pieces.map((piece, i) => (asText[i % asText.length] ? piece : utf8.encode(piece)));
        expect(runPush(chunks)).toEqual(specParse(bytes));
      },
    ),
    budget(3_000, 900),
  );
});

test("createParser reads non-ASCII streams with maxEventSize as small as their longest line and data", () => {
  // Lines longer in bytes than maxEventSize go on as text, their characters split anywhere.
  fc.assert(
    fc.property(intlBytes, cuts, fc.integer({ min: 1, max: 9 }), (bytes, points, size) => {
      const { longestLine, largestData } = specSizes(bytes);
      const options = { maxEventSize: Math.max(1, longestLine, largestData) };
      const spec = specParse(bytes);
      expect(runPush(splitAt(bytes, points), options)).toEqual(spec);
      expect(runPush(chunksOf(bytes, size), options)).toEqual(spec);
    }),
    budget(3_000, 900),
  );
});

test("EventStreamParser and parseEventStream match the spec on non-ASCII text split anywhere", async () => {
  await fc.assert(
    fc.asyncProperty(intlBytes, cuts, async (bytes, points) => {
      const { events, retries, comments } = specParse(bytes);
      const spec = { events, retries, comments };
      for (const chunks of [chunksOf(bytes, 1), splitAt(bytes, points)]) {
        expect(await runStream(chunks)).toEqual(spec);
        expect(await runIterate(chunks)).toEqual(spec);
      }
    }),
    budget(300, 900),
  );
});
