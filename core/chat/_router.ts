/**
 * Method and path matching for the chat routes: `:name` segments capture one raw (still
 * percent-encoded) path segment; a known path with another method answers `405` with `Allow`, an
 * unknown path `404`; `HEAD` runs the `GET` handler and drops the body.
 *
 * @module
 */
import { errorResponse } from "../mod.ts";
import { withoutBody } from "./_http.ts";

/**
 * The handler of one route. `params` holds the raw `:name` segments.
 *
 * @example
 * ```ts
 * import type { Route } from "./_router.ts";
 * const hello: Route["handler"] = (_request, params) => new Response(`hello ${params.name ?? ""}`);
 * ```
 */
type RouteHandler = (
  request: Request,
  params: Readonly<Record<string, string>>,
  url: URL,
) => Response | Promise<Response>;

/**
 * One route: a method, a path pattern such as `/rooms/:room/events`, and its handler.
 *
 * @example
 * ```ts
 * import type { Route } from "./_router.ts";
 * const route: Route = { method: "GET", path: "/healthz", handler: () => new Response("ok") };
 * ```
 */
export type Route = { readonly method: "GET" | "POST"; readonly path: string; readonly handler: RouteHandler };

type Compiled = Route & { readonly segments: readonly string[] };

/**
 * Builds the request dispatcher for a list of routes.
 *
 * @param routes The routes; the first whose method and path match handles the request.
 * @returns A function from a request to the handler's response (or the 404/405 error).
 *
 * @example
 * ```ts
 * import { createRouter } from "./_router.ts";
 * const route = createRouter([
 *   { method: "GET", path: "/rooms/:room", handler: (_request, params) => new Response(params.room) },
 * ]);
 * const response = await route(new Request("http://chat.test/rooms/lobby")); // body "lobby"
 * ```
 */
export function createRouter(routes: readonly Route[]): (request: Request) => Promise<Response> {
  const compiled: Compiled[] = routes.map((route) => ({ ...route, segments: route.path.split("/") }));
  return async (request) => {
    const url = new URL(request.url);
    const segments = url.pathname.split("/");
    const method = request.method === "HEAD" ? "GET" : request.method;
    const allowed = new Set<string>();
    for (const route of compiled) {
      const params = match(route.segments, segments);
      if (params === undefined) continue;
      if (route.method === method) {
        const response = await route.handler(request, params, url);
        return request.method === "HEAD" ? withoutBody(response) : response;
      }
      allowed.add(route.method);
      if (route.method === "GET") allowed.add("HEAD");
    }
    if (allowed.size === 0) return errorResponse(404, `There is nothing at ${truncate(url.pathname)}`);
    const allow = [...allowed].sort().join(", ");
    return errorResponse(405, `${truncate(request.method)} is not allowed on ${truncate(url.pathname)}; use ${allow}`, {
      allow,
    });
  };
}

function match(pattern: readonly string[], segments: readonly string[]): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i]!;
    const actual = segments[i]!;
    if (expected.startsWith(":")) {
      if (actual === "") return undefined;
      params[expected.slice(1)] = actual;
    } else if (expected !== actual) {
      return undefined;
    }
  }
  return params;
}

// The path and method are echoed in errors: keep a hostile one from bloating the answer.
function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
