/**
 * The memory hub's history ring (core/chat/_ring.ts) against a plain array model: any sequence
 * of push / add / shift gives the same oldest item, length and latest(n) as the model, while its
 * array grows by doubling up to the capacity.
 */
import fc from "fast-check";
import { expect, test } from "vitest";
import { Ring } from "../core/chat/_ring.ts";

type Op = { kind: "push" | "add" | "shift" | "latest"; n: number };

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom("push", "add", "shift", "latest"),
  n: fc.integer({ min: 0, max: 40 }),
});

test("Ring behaves as a bounded array that drops its oldest item", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 33 }), fc.array(op, { maxLength: 300 }), (capacity, ops) => {
      const ring = new Ring<number>(capacity);
      const model: number[] = [];
      let next = 0;
      for (const { kind, n } of ops) {
        if (kind === "push" || kind === "add") {
          const item = next++;
          const dropped = model.length === capacity ? model.shift() : undefined;
          model.push(item);
          if (kind === "add") expect(ring.add(item)).toBe(dropped);
          else ring.push(item);
        } else if (kind === "shift") {
          expect(ring.shift()).toBe(model.shift());
        } else {
          expect(ring.latest(n)).toEqual(model.slice(Math.max(0, model.length - n)));
        }
        expect(ring.length).toBe(model.length);
        expect(ring.oldest()).toBe(model[0]);
      }
      expect(ring.latest(capacity)).toEqual(model);
    }),
    { numRuns: 500 },
  );
});
