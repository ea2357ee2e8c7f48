/**
 * Response helpers shared by the routes: JSON bodies, the one error shape
 * (`{"error": "<one sentence>"}`), and the security headers every response carries.
 *
 * @module
 */

/**
 * The page's Content-Security-Policy: no inline script or style, no third-party origin, no
 * framing (clickjacking), no `<base>` rewriting. The page (`web/`) loads `chat.js` and
 * `chat.css` from this server and talks to it with `EventSource` and `fetch` only.
 *
 * @example
 * ```ts
 * import { CONTENT_SECURITY_POLICY } from "./http.ts";
 * CONTENT_SECURITY_POLICY.includes("script-src 'self'"); // true: no inline script
 * ```
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/**
 * Headers set on every response: the CSP above, `nosniff` (a JSON or text body is never run as
 * script or styles), and `no-referrer` (room names in URLs do not leak to other sites).
 *
 * @example
 * ```ts
 * import { SECURITY_HEADERS } from "./http.ts";
 * const headers = new Headers(SECURITY_HEADERS);
 * headers.get("x-content-type-options"); // "nosniff"
 * ```
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
});

/**
 * A JSON response with the security headers and `Cache-Control: no-store` (API answers are live
 * counts or one-off results).
 *
 * @param status The HTTP status.
 * @param body Any JSON-serialisable value.
 * @param headers Extra headers (e.g. `Allow`).
 * @returns The response.
 *
 * @example
 * ```ts
 * import { json } from "./http.ts";
 * const response = json(201, { id: "lz3k9a1.1-1" });
 * ```
 */
export function json(status: number, body: unknown, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: {
      ...SECURITY_HEADERS,
      "content-type": "application/json; charset=utf-8",
      "cache-control": "no-store",
      ...headers,
    },
  });
}

/**
 * The error shape of every 4xx/5xx answer: `{"error": message}`.
 *
 * @param status The HTTP status.
 * @param message What is wrong, in one sentence, with no internal detail.
 * @param headers Extra headers (e.g. `Allow` on a 405).
 * @returns The response.
 *
 * @example
 * ```ts
 * import { errorResponse } from "./http.ts";
 * const response = errorResponse(405, "GET is not allowed here", { allow: "POST" });
 * ```
 */
export function errorResponse(status: number, message: string, headers?: Record<string, string>): Response {
  return json(status, { error: message }, headers);
}

/**
 * The same response without its body, for `HEAD`: status and headers are kept, the body (if
 * any) is cancelled so whatever produces it stops.
 *
 * @param response The `GET` answer.
 * @returns A body-less copy.
 *
 * @example
 * ```ts
 * import { json, withoutBody } from "./http.ts";
 * const head = withoutBody(json(200, { status: "ok" }));
 * head.body; // null
 * ```
 */
export function withoutBody(response: Response): Response {
  response.body?.cancel().catch(() => {});
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}
