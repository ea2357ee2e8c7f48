/**
 * Private: the one way the SSE core checks a numeric argument and words the error, so every
 * message reads `Cannot <action>: "<name>" must be <kind>, received <value>`.
 *
 * @module
 */

/** What a number must be; the error message says it in these words. */
export type NumberKind = "a positive number" | "a positive finite number" | "a non-negative safe integer";

const ACCEPTS: Readonly<Record<NumberKind, (value: number) => boolean>> = {
  "a positive number": (value) => value > 0,
  "a positive finite number": (value) => value > 0 && Number.isFinite(value),
  "a non-negative safe integer": (value) => Number.isSafeInteger(value) && value >= 0,
};

/**
 * Returns `value` if it is a number of the given kind, else throws a `RangeError` that names
 * the action, the argument and what was received.
 *
 * @param value The argument.
 * @param kind What it must be.
 * @param action What was being done, e.g. `"Cannot encode event"`.
 * @param name The argument's name, e.g. `"retry"`.
 * @param unit Said after the kind, e.g. `"milliseconds"`.
 * @returns `value`, typed as a number.
 * @throws {RangeError} If `value` is not a number of that kind.
 *
 * @example
 * ```ts
 * import { checkNumber } from "./_check.ts";
 * checkNumber(15_000, "a positive finite number", "Cannot create event stream", "heartbeat"); // 15000
 * ```
 */
export function checkNumber(value: unknown, kind: NumberKind, action: string, name: string, unit?: string): number {
  if (typeof value === "number" && ACCEPTS[kind](value)) return value;
  const what = unit === undefined ? kind : `${kind} of ${unit}`;
  throw new RangeError(`${action}: "${name}" must be ${what}, received ${describe(value)}`);
}

/**
 * A value as an error message shows it: strings quoted, numbers with their type, else the type.
 *
 * @param value Anything.
 * @returns E.g. `"\"5\""`, `"number -1"`, `"null"`, `"object"`.
 *
 * @example
 * ```ts
 * import { describe } from "./_check.ts";
 * describe(1.5); // "number 1.5"
 * ```
 */
export function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return `${typeof value} ${String(value)}`;
  }
  if (value === null) return "null";
  return typeof value;
}
