/**
 * The chat router (core/chat/_router.ts): path and query are read out of `request.url` in place
 * (no URL object per request), with the URL parser's results: `:name` segments, 404 and 405 with
 * `Allow`, HEAD through GET, and `queryParam` equal to `URLSearchParams.get`.
 */
import { expect, test } from "vitest";
import { createRouter, queryParam, type Route } from "../core/chat/_router.ts";

const seen: { params: Record<string, string>; query: string }[] = [];
const routes: Route[] = [
  { method: "GET", path: "/", handler: () => new Response("root") },
  {
    method: "GET",
    path: "/rooms/:room/events",
    handler: (_request, params, query) => {
      seen.push({ params: { ...params }, query });
      return new Response(`events ${params.room}`);
    },
  },
  { method: "POST", path: "/rooms/:room/messages", handler: async (_request, params) => new Response(params.room) },
];
const route = createRouter(routes);
const answer = async (url: string, init?: RequestInit) => {
  const response = await route(new Request(url, init));
  return { status: response.status, text: await response.text(), allow: response.headers.get("allow") };
};

test("the router matches segments as the URL parser and String.split give them, and passes the raw query", async () => {
  seen.length = 0;
  expect(await answer("http://chat.test/rooms/lob%20by/events?history=0&x=%41#frag")).toMatchObject({
    status: 200,
    text: "events lob%20by",
  });
  expect(seen).toEqual([{ params: { room: "lob%20by" }, query: "history=0&x=%41" }]);
  expect((await answer("http://chat.test/")).text).toBe("root");
  expect((await answer("https://chat.test:8443/rooms/a/events")).status).toBe(200);
  for (const path of ["/rooms//events", "/rooms/a/events/", "/rooms/a", "/rooms/a/b/events", "//rooms/a/events"]) {
    expect((await answer(`http://chat.test${path}`)).status).toBe(404);
  }
});

test("the router answers 405 with Allow for a known path, and HEAD through GET without a body", async () => {
  expect(await answer("http://chat.test/rooms/a/events", { method: "POST" })).toMatchObject({
    status: 405,
    allow: "GET, HEAD",
  });
  expect(await answer("http://chat.test/rooms/a/messages", { method: "PUT" })).toMatchObject({
    status: 405,
    allow: "POST",
  });
  expect(await answer("http://chat.test/rooms/a/events", { method: "HEAD" })).toMatchObject({ status: 200, text: "" });
  expect(await answer("http://chat.test/rooms/a/messages", { method: "POST" })).toMatchObject({ text: "a" });
});

test("queryParam gives what URLSearchParams.get gives", () => {
  const pieces = ["history", "lastEventId", "=", "&", "0", "a-1", "%20", "+", "%", "x", "", "history=", "=1"];
  for (let i = 0; i < 5000; i++) {
    let query = "";
    const length = Math.floor(Math.random() * 8);
    for (let j = 0; j < length; j++) query += pieces[Math.floor(Math.random() * pieces.length)];
    for (const name of ["history", "lastEventId", "x"]) {
      expect(queryParam(query, name), `${name} in ${query}`).toBe(new URLSearchParams(query).get(name));
    }
  }
});
