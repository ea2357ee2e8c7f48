/**
 * Private to the Hono peers (`hono-node.ts`, `hono-bun.ts`, `hono-deno.ts`): one Hono app, the
 * same on every runtime. Each subscriber is a `streamSSE` stream kept open until the client
 * aborts; each publish calls `stream.writeSSE({ id, data })` on every stream of the room, as
 * Hono's docs write events. Protocol: `_message.ts`.
 *
 * @module
 */
import { Hono } from "hono";
import { type SSEStreamingApi, streamSSE } from "hono/streaming";
import { chatMessage, STREAM_START } from "./_message.ts";

/** The peer app: `app.fetch` is the `(Request) => Response` each runtime serves. */
export function createHonoPeer(): Hono {
  const rooms = new Map<string, Set<SSEStreamingApi>>();
  let subscribers = 0;
  let nextId = 0;
  const roomOf = (name: string) => {
    let room = rooms.get(name);
    if (!room) rooms.set(name, (room = new Set()));
    return room;
  };
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok", subscribers }));
  app.get("/rooms/:room/events", (c) => {
    const room = roomOf(c.req.param("room"));
    return streamSSE(c, async (stream) => {
      await stream.write(STREAM_START);
      room.add(stream);
      subscribers++;
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      room.delete(stream);
      subscribers--;
    });
  });
  app.post("/rooms/:room/messages", async (c) => {
    const id = String(++nextId);
    const message = chatMessage(await c.req.text(), id, c.req.param("room"));
    if (message === null) return c.json({ error: "bad message" }, 400);
    const data = JSON.stringify(message);
    for (const stream of roomOf(message.room)) stream.writeSSE({ id, data }).catch(() => {});
    return c.json({ id }, 201);
  });
  return app;
}
