/**
 * Private: `connect`'s opt-in backoff, checked once, and the wait before each reconnect. The
 * spec leaves room for it: reestablishing the connection waits the reconnection time, then
 * "optionally" longer, e.g. exponentially after failed attempts, so as not to overload a server
 * that may already be overloaded. The jitter spreads a crowd of clients cut off at once.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#reestablish-the-connection
 * @module
 */
import { checkNumber, describe } from "./_check.ts";
import type { BackoffOptions } from "./types.ts";

/** {@link BackoffOptions} with every default filled in. */
export type BackoffPolicy = {
  readonly initialDelay: number;
  readonly maxDelay: number;
  readonly maxRetries: number;
  readonly random: () => number;
};

const ACTION = "Cannot connect";

/**
 * Checks the `backoff` option and fills in its defaults.
 *
 * @param value `true`, `false`, the options or `undefined`.
 * @returns The policy, or `undefined` when backoff is off.
 * @throws {TypeError} If `value` is not a boolean or an object, or `random` is not a function.
 * @throws {RangeError} If a delay is not a positive finite number, or `maxRetries` is not a
 *   non-negative safe integer or `Infinity`.
 *
 * @example
 * ```ts
 * import { backoffPolicy } from "./_backoff.ts";
 * backoffPolicy(true); // { initialDelay: 1000, maxDelay: 30000, maxRetries: Infinity, random: Math.random }
 * ```
 */
export function backoffPolicy(value: BackoffOptions | boolean | undefined): BackoffPolicy | undefined {
  if (value === undefined || value === false) return undefined;
  const options = value === true ? {} : value;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${ACTION}: "backoff" must be a boolean or an object, received ${describe(options)}`);
  }
  const { initialDelay = 1000, maxDelay = 30_000, maxRetries = Infinity, random = Math.random } = options;
  if (typeof random !== "function") {
    throw new TypeError(`${ACTION}: "backoff.random" must be a function, received ${describe(random)}`);
  }
  if (maxRetries !== Infinity && !(Number.isSafeInteger(maxRetries) && maxRetries >= 0)) {
    throw new RangeError(
      `${ACTION}: "backoff.maxRetries" must be a non-negative safe integer or Infinity, received ${describe(maxRetries)}`,
    );
  }
  return {
    initialDelay: checkNumber(initialDelay, "a positive finite number", ACTION, "backoff.initialDelay", "milliseconds"),
    maxDelay: checkNumber(maxDelay, "a positive finite number", ACTION, "backoff.maxDelay", "milliseconds"),
    maxRetries,
    random,
  };
}

/**
 * The wait before reconnect attempt `attempt` (1, 2, ...): the reconnection time, plus full
 * jitter over a window that doubles per attempt up to `maxDelay`, and at least `retryAfter`.
 *
 * @param policy The checked policy.
 * @param attempt The attempt's number since the connection was last announced, from 1.
 * @param reconnectionTime The event source's reconnection time, in ms.
 * @param retryAfter A `Retry-After` wait in ms, if the answer had one.
 * @returns The wait in whole milliseconds.
 * @throws {RangeError} If `random` returns anything but a number in [0, 1).
 *
 * @example
 * ```ts
 * import { backoffDelay, backoffPolicy } from "./_backoff.ts";
 * const policy = backoffPolicy({ random: () => 0.5 })!;
 * backoffDelay(policy, 3, 3000); // 3000 + 0.5 * 4000 = 5000
 * ```
 */
export function backoffDelay(
  policy: BackoffPolicy,
  attempt: number,
  reconnectionTime: number,
  retryAfter?: number,
): number {
  const share = policy.random();
  if (!(share >= 0 && share < 1)) {
    throw new RangeError(`${ACTION}: "backoff.random" must return a number in [0, 1), returned ${describe(share)}`);
  }
  const window = Math.min(policy.maxDelay, policy.initialDelay * 2 ** (attempt - 1));
  const delay = reconnectionTime + Math.floor(share * window);
  return retryAfter === undefined ? delay : Math.max(delay, retryAfter);
}
