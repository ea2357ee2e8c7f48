/**
 * Private: what the routes need beyond the core's JSON answers (`jsonResponse`, `errorResponse`,
 * `SECURITY_HEADERS` in `core/json-response.ts`).
 *
 * @module
 */

/**
 * The same response without its body, for `HEAD`: status and headers are kept, the body (if
 * any) is cancelled so whatever produces it stops.
 *
 * @param response The `GET` answer.
 * @returns A body-less copy.
 *
 * @example
 * ```ts
 * import { jsonResponse } from "../mod.ts";
 * import { withoutBody } from "./_http.ts";
 * const head = withoutBody(jsonResponse(200, { status: "ok" }));
 * head.body; // null
 * ```
 */
export function withoutBody(response: Response): Response {
  response.body?.cancel().catch(() => {});
  return new Response(null, { status: response.status, statusText: response.statusText, headers: response.headers });
}
