/**
 * CORS, explicitly: none by default; named origins get `Access-Control-Allow-Origin` on the API and
 * the streams and correct preflight answers; any other origin gets nothing (or a `403` preflight).
 */
import { expect, test } from "vitest";
import { createChatApp } from "../core/chat/mod.ts";
import { BASE } from "./_chat.ts";

const APP = "https://app.example";

const preflight = (app: ReturnType<typeof createChatApp>, origin: string) =>
  app.fetch(
    new Request(`${BASE}/rooms/lobby/messages`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    }),
  );

test("by default no CORS header is sent and a preflight is not answered as one", async () => {
  const app = createChatApp({ responder: null });
  const response = await app.fetch(new Request(`${BASE}/rooms`, { headers: { origin: APP } }));
  expect(response.headers.get("access-control-allow-origin")).toBeNull();
  const options = await preflight(app, APP);
  expect(options.status).toBe(405); // no OPTIONS route: the browser refuses the cross-origin POST
  expect(options.headers.get("access-control-allow-origin")).toBeNull();
  await app.close();
});

test("a named origin gets preflight answers and Access-Control-Allow-Origin on the API and the streams", async () => {
  const app = createChatApp({ responder: null, corsOrigins: [APP] });
  const options = await preflight(app, APP);
  expect(options.status).toBe(204);
  expect(Object.fromEntries(options.headers)).toMatchObject({
    "access-control-allow-origin": APP,
    "access-control-allow-methods": "GET, HEAD, POST",
    "access-control-allow-headers": "content-type, last-event-id, idempotency-key",
    "access-control-max-age": "600",
    vary: "Origin",
  });
  const posted = await app.fetch(
    new Request(`${BASE}/rooms/lobby/messages`, {
      method: "POST",
      headers: { origin: APP, "content-type": "application/json" },
      body: JSON.stringify({ user: "ann", text: "hi" }),
    }),
  );
  expect(posted.status).toBe(201);
  expect(posted.headers.get("access-control-allow-origin")).toBe(APP);
  expect(posted.headers.get("vary")).toContain("Origin");
  const stream = await app.fetch(new Request(`${BASE}/rooms/lobby/events`, { headers: { origin: APP } }));
  expect(stream.headers.get("access-control-allow-origin")).toBe(APP);
  await stream.body?.cancel();
  await app.close();
});

test("another origin gets no CORS header, and its preflight a 403 JSON answer", async () => {
  const app = createChatApp({ responder: null, corsOrigins: [APP] });
  const options = await preflight(app, "https://evil.example");
  expect(options.status).toBe(403);
  expect(options.headers.get("access-control-allow-origin")).toBeNull();
  expect(await options.json()).toEqual({ error: "This origin may not use the chat's API" });
  const read = await app.fetch(new Request(`${BASE}/rooms`, { headers: { origin: "https://evil.example" } }));
  expect(read.headers.get("access-control-allow-origin")).toBeNull();
  await app.close();
});

test("an origin that is not an http(s) origin is refused at creation", () => {
  for (const bad of ["app.example", "https://app.example/path", "ftp://app.example", "*"]) {
    expect(() => createChatApp({ responder: null, corsOrigins: [bad] }), bad).toThrow(RangeError);
  }
  expect(() => createChatApp({ responder: null, corsOrigins: ["https://app.example/"] })).not.toThrow();
});
