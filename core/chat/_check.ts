/**
 * Private: the one way the chat package checks a numeric option or argument and words the
 * error: `Cannot <action>: "<name>" must be <kind>, received <value>`.
 *
 * @module
 */

/** What a number must be; the error message says it in these words. */
export type NumberKind =
  | "a positive safe integer"
  | "a non-negative safe integer"
  | "a positive finite number"
  | "a non-negative finite number";

const ACCEPTS: Readonly<Record<NumberKind, (value: number) => boolean>> = {
  "a positive safe integer": (value) => Number.isSafeInteger(value) && value >= 1,
  "a non-negative safe integer": (value) => Number.isSafeInteger(value) && value >= 0,
  "a positive finite number": (value) => Number.isFinite(value) && value > 0,
  "a non-negative finite number": (value) => Number.isFinite(value) && value >= 0,
};

/**
 * Returns `value` if it is a number of the given kind, else throws a `RangeError` naming the
 * action, the option and what was received.
 *
 * @param value The option's value.
 * @param kind What it must be.
 * @param action What was being done, e.g. `"Cannot create hub"`.
 * @param name The option's name, e.g. `"queueLimit"`.
 * @returns `value`, typed as a number.
 * @throws {RangeError} If `value` is not a number of that kind.
 *
 * @example
 * ```ts
 * import { checkNumber } from "./_check.ts";
 * checkNumber(500, "a positive safe integer", "Cannot create hub", "historySize"); // 500
 * ```
 */
export function checkNumber(value: unknown, kind: NumberKind, action: string, name: string): number {
  if (typeof value === "number" && ACCEPTS[kind](value)) return value;
  const received = typeof value === "number" ? `number ${String(value)}` : value === null ? "null" : typeof value;
  throw new RangeError(`${action}: "${name}" must be ${kind}, received ${received}`);
}
