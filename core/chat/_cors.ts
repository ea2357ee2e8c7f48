/**
 * Private: cross-origin access (the Fetch standard's CORS protocol), off unless origins are named.
 * With none, no CORS header is ever sent: only the page's own origin can read the API and the
 * streams, and a cross-origin `POST` (JSON, so never a "simple" request) is stopped by the
 * browser's preflight.
 *
 * @module
 */
import { errorResponse } from "../mod.ts";

/** Methods and request headers a cross-origin page may use (the chat's own). */
const ALLOW_METHODS = "GET, HEAD, POST";
const ALLOW_HEADERS = "content-type, last-event-id, idempotency-key";
/** How long a browser may cache a preflight answer, in seconds. */
const MAX_AGE_S = "600";

/**
 * Applies a fixed list of allowed origins.
 *
 * @example
 * ```ts
 * import { Cors } from "./_cors.ts";
 * const cors = new Cors(["https://app.example"]);
 * const preflight = cors.preflight(
 *   new Request("http://chat.test/rooms/x/messages", {
 *     method: "OPTIONS",
 *     headers: { origin: "https://app.example", "access-control-request-method": "POST" },
 *   }),
 * );
 * console.log(preflight?.status); // 204
 * ```
 */
export class Cors {
  readonly #origins: ReadonlySet<string>;

  /** @param origins Serialised origins (`https://app.example`, no path), compared exactly. */
  constructor(origins: readonly string[]) {
    this.#origins = new Set(origins);
  }

  /**
   * The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`), or
   * `undefined` for any other request: `204` with the allowed methods and headers for a listed
   * origin, `403` JSON for another.
   */
  preflight(request: Request): Response | undefined {
    if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return undefined;
    const origin = request.headers.get("origin");
    if (origin === null || !this.#origins.has(origin)) {
      return errorResponse(403, "This origin may not use the chat's API", { vary: "Origin" });
    }
    return new Response(null, {
      status: 204,
      headers: {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ALLOW_METHODS,
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": MAX_AGE_S,
        vary: "Origin",
      },
    });
  }

  /** Adds `Access-Control-Allow-Origin` to `response` when the request's origin is listed. */
  decorate(request: Request, response: Response): Response {
    const origin = request.headers.get("origin");
    if (origin !== null && this.#origins.has(origin)) {
      response.headers.set("access-control-allow-origin", origin);
      response.headers.append("vary", "Origin");
    }
    return response;
  }
}

/**
 * Checks an origin as the program takes it: `scheme://host[:port]`, nothing after.
 *
 * @returns The origin, serialised as browsers send it.
 * @throws {RangeError} If it is not an `http:` or `https:` origin.
 *
 * @example
 * ```ts
 * import { checkOrigin } from "./_cors.ts";
 * checkOrigin("https://app.example:8443"); // "https://app.example:8443"
 * ```
 */
export function checkOrigin(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || !/^https?:$/.test(url.protocol) || url.origin !== text.replace(/\/$/, "")) {
    throw new RangeError(`Cannot allow origin: "${text}" is not an http(s) origin such as https://app.example`);
  }
  return url.origin;
}
