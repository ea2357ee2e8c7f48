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
 * What the mount said of the connection (the app's `ClientInfo`), as far as the routes use it.
 *
 * @example
 * ```ts
 * import type { MountInfo } from "./_router.ts";
 * const node: MountInfo = { directStreams: true };
 * ```
 */
export type MountInfo = {
  /** The mount takes event streams over push sources itself (`eventStreamResponse` with `direct`). */
  readonly directStreams?: boolean;
};

/**
 * The handler of one route. `params` holds the raw `:name` segments, `query` the raw query
 * string (without `?`; read it with {@link queryParam}), `info` what the mount said.
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
  query: string,
  info: MountInfo,
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

const NO_INFO: MountInfo = Object.freeze({});

/**
 * Builds the request dispatcher for a list of routes. It reads the path and query out of
 * `request.url` as they are (no `URL` object, no segment array: an event-stream subscriber's
 * request should leave little garbage behind), and allocates the `:name` parameters only for the
 * route that matches.
 *
 * @param routes The routes; the first whose method and path match handles the request.
 * @returns A function from a request (and what the mount said of it) to the handler's response
 *   (or the 404/405 error).
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
export function createRouter(
  routes: readonly Route[],
): (request: Request, info?: MountInfo) => Response | Promise<Response> {
  const compiled: Compiled[] = routes.map((route) => ({ ...route, segments: route.path.split("/") }));
  // Not async: the handler's own promise is returned as it is, one layer of promises fewer.
  return (request, info = NO_INFO) => {
    const { path, query } = target(request.url);
    const method = request.method === "HEAD" ? "GET" : request.method;
    let pathKnown = false;
    for (const route of compiled) {
      if (!matches(route.segments, path)) continue;
      if (route.method === method) {
        const response = route.handler(request, paramsOf(route.segments, path), query, info);
        if (request.method !== "HEAD") return response;
        return response instanceof Response ? withoutBody(response) : response.then(withoutBody);
      }
      pathKnown = true;
    }
    if (!pathKnown) return errorResponse(404, `There is nothing at ${truncate(path)}`);
    const allowed = new Set<string>();
    for (const route of compiled) {
      if (!matches(route.segments, path)) continue;
      allowed.add(route.method);
      if (route.method === "GET") allowed.add("HEAD");
    }
    const allow = [...allowed].sort().join(", ");
    return errorResponse(405, `${truncate(request.method)} is not allowed on ${truncate(path)}; use ${allow}`, {
      allow,
    });
  };
}

/**
 * The value of the first `name` parameter in a raw query string, as
 * `new URLSearchParams(query).get(name)` gives it (`null` if absent). A query without `%` or `+`
 * needs no decoding and is read in place; any other goes through `URLSearchParams`.
 *
 * @param query The query, without `?`.
 * @param name The parameter.
 * @returns Its decoded value, or `null`.
 *
 * @example
 * ```ts
 * import { queryParam } from "./_router.ts";
 * queryParam("history=0&lastEventId=a-1", "lastEventId"); // "a-1"
 * queryParam("q=a+b%21", "q"); // "a b!"
 * queryParam("flag", "flag"); // ""
 * ```
 */
export function queryParam(query: string, name: string): string | null {
  if (query === "") return null;
  if (query.includes("%") || query.includes("+")) return new URLSearchParams(query).get(name);
  let at = 0;
  while (at <= query.length) {
    let end = query.indexOf("&", at);
    if (end === -1) end = query.length;
    if (query.startsWith(name, at)) {
      const after = at + name.length;
      if (after === end) return "";
      if (query.charCodeAt(after) === 0x3d /* = */) return query.slice(after + 1, end);
    }
    at = end + 1;
  }
  return null;
}

/**
 * The path and query of a request URL as the URL serializes them (`url.pathname`, `url.search`
 * without `?`). A `Request`'s `url` is already serialized: for http(s) they are read in place.
 */
function target(url: string): { path: string; query: string } {
  const scheme = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1;
  const pathAt = scheme < 0 ? -1 : url.indexOf("/", scheme);
  if (pathAt < 0) {
    const parsed = new URL(url);
    return { path: parsed.pathname, query: parsed.search.slice(1) };
  }
  let end = url.indexOf("#", pathAt);
  if (end < 0) end = url.length;
  const queryAt = url.indexOf("?", pathAt);
  if (queryAt < 0 || queryAt > end) return { path: url.slice(pathAt, end), query: "" };
  return { path: url.slice(pathAt, queryAt), query: url.slice(queryAt + 1, end) };
}

/** Whether `path` has `pattern`'s segments (`:name` matching any non-empty one), without splitting it. */
function matches(pattern: readonly string[], path: string): boolean {
  let at = 0;
  for (let i = 0; i < pattern.length; i++) {
    const last = i === pattern.length - 1;
    let end = path.indexOf("/", at);
    if (end < 0) end = path.length;
    else if (last) return false; // more segments than the pattern
    if (end === path.length && !last) return false; // fewer segments
    const expected = pattern[i]!;
    if (expected.startsWith(":")) {
      if (end === at) return false;
    } else if (end - at !== expected.length || !path.startsWith(expected, at)) return false;
    at = end + 1;
  }
  return true;
}

/** The `:name` segments of a path that {@link matches} `pattern`. */
function paramsOf(pattern: readonly string[], path: string): Record<string, string> {
  const params: Record<string, string> = {};
  let at = 0;
  for (const expected of pattern) {
    let end = path.indexOf("/", at);
    if (end < 0) end = path.length;
    if (expected.startsWith(":")) params[expected.slice(1)] = path.slice(at, end);
    at = end + 1;
  }
  return params;
}

// The path and method are echoed in errors: keep a hostile one from bloating the answer.
function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}
