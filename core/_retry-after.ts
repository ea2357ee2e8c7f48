/**
 * Private: the `Retry-After` header (RFC 9110 §10.2.3) as a wait in milliseconds, for
 * `connect`'s backoff on 502/503/504 answers.
 *
 * @see https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 * @module
 */

const MONTH = "(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY_NAME = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";
// RFC 9110 §5.6.7: recipients accept all three formats, each case-sensitive.
// IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT": day, month, year, time.
const IMF_FIXDATE = new RegExp(`^${DAY_NAME}, (\\d\\d) ${MONTH} (\\d{4}) ${TIME} GMT$`);
// Obsolete RFC 850 format, e.g. "Sunday, 06-Nov-94 08:49:37 GMT": a two-digit year.
const RFC_850 = new RegExp(
  `^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\\d\\d)-${MONTH}-(\\d\\d) ${TIME} GMT$`,
);
// Obsolete asctime format, e.g. "Sun Nov  6 08:49:37 1994": month, day (space-padded), time, year.
const ASCTIME = new RegExp(`^${DAY_NAME} ${MONTH} ( \\d|\\d\\d) ${TIME} (\\d{4})$`);
const MONTHS = "JanFebMarAprMayJunJulAugSepOctNovDec";

/**
 * How long a `Retry-After` value asks the client to wait: `delay-seconds` (ASCII digits) or an
 * HTTP-date in any of its three formats, counted from `now`. A date in the past waits 0 ms.
 *
 * @param value The header's value, or `null` when absent.
 * @param now The current time in ms since the epoch (`Date.now()`).
 * @returns The wait in milliseconds, or `undefined` if the value is absent or malformed.
 *
 * @example
 * ```ts
 * import { parseRetryAfter } from "./_retry-after.ts";
 * parseRetryAfter("120", Date.now()); // 120000
 * parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", Date.UTC(1994, 10, 6, 8, 49, 7)); // 30000
 * ```
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = httpDate(text, now);
  return date === undefined ? undefined : Math.max(0, date - now);
}

/** An HTTP-date as ms since the epoch, or `undefined` if `text` is not one. */
function httpDate(text: string, now: number): number | undefined {
  let parts: [day: string, month: string, year: number, hour: string, minute: string, second: string];
  let match: RegExpExecArray | null;
  if ((match = IMF_FIXDATE.exec(text)) !== null) {
    parts = [match[1]!, match[2]!, Number(match[3]), match[4]!, match[5]!, match[6]!];
  } else if ((match = RFC_850.exec(text)) !== null) {
    // RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is the
    // most recent past year with those last two digits.
    const current = new Date(now).getUTCFullYear();
    let year = current - (current % 100) + Number(match[3]);
    if (year > current + 50) year -= 100;
    parts = [match[1]!, match[2]!, year, match[4]!, match[5]!, match[6]!];
  } else if ((match = ASCTIME.exec(text)) !== null) {
    parts = [match[2]!, match[1]!, Number(match[6]), match[3]!, match[4]!, match[5]!];
  } else {
    return undefined;
  }
  const [day, month, year, hour, minute, second] = parts;
  const d = Number(day);
  const m = MONTHS.indexOf(month) / 3;
  const h = Number(hour);
  const min = Number(minute);
  const s = Number(second);
  if (h > 23 || min > 59 || s > 60) return undefined; // 60: a leap second
  // A day the month does not have (e.g. 31 Apr) would roll over into the next month.
  if (new Date(Date.UTC(year, m, d)).getUTCDate() !== d) return undefined;
  return Date.UTC(year, m, d, h, min, s);
}
