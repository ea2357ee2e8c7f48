/**
 * JSON answers with the headers every eddy response carries: the one error shape
 * (`{"error": "<one sentence>"}`), the security headers, and the fallback a server sends when a
 * handler fails. The chat app and the runtime mounts both answer with these, so a `500` looks
 * the same whichever layer caught the failure.
 *
 * @module
 */

/**
 * A strict same-origin Content-Security-Policy: no inline script or style, no third-party
 * origin, no framing (clickjacking), no `<base>` rewriting. The chat page (`web/`) loads
 * `chat.js` and `chat.css` from its own server and talks to it with `EventSource` and `fetch`
 * only; a JSON body under this policy can run nothing at all.
 *
 * @example
 * ```ts
 * import { CONTENT_SECURITY_POLICY } from "./mod.ts";
 * console.log(CONTENT_SECURITY_POLICY.includes("script-src 'self'")); // true: no inline script
 * ```
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/**
 * Headers set on every response: the CSP above, `nosniff` (a JSON or text body is never run as
 * script or styles), and `no-referrer` (paths such as room names do not leak to other sites).
 *
 * @example
 * ```ts
 * import { SECURITY_HEADERS } from "./mod.ts";
 * const headers = new Headers(SECURITY_HEADERS);
 * console.log(headers.get("x-content-type-options")); // "nosniff"
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
 * import { jsonResponse } from "./mod.ts";
 * const response = jsonResponse(201, { id: "lz3k9a1.1-1" });
 * console.log(response.headers.get("content-type")); // "application/json; charset=utf-8"
 * ```
 */
export function jsonResponse(status: number, body: unknown, headers?: Readonly<Record<string, string>>): Response {
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
 * import { errorResponse } from "./mod.ts";
 * const response = errorResponse(405, "GET is not allowed here", { allow: "POST" });
 * console.log(await response.json()); // { error: "GET is not allowed here" }
 * ```
 */
export function errorResponse(status: number, message: string, headers?: Readonly<Record<string, string>>): Response {
  return jsonResponse(status, { error: message }, headers);
}

/**
 * The answer to a request whose handler failed: `500 {"error": "The server failed to answer
 * this request"}`. It says nothing of the failure itself, which goes to the server's error hook.
 *
 * @returns A new response each call (a body can be read once).
 *
 * @example
 * ```ts
 * import { serverErrorResponse } from "./mod.ts";
 * const handler = async (request: Request) => {
 *   try {
 *     return new Response(await request.text());
 *   } catch {
 *     return serverErrorResponse();
 *   }
 * };
 * ```
 */
export function serverErrorResponse(): Response {
  return errorResponse(500, "The server failed to answer this request");
}
