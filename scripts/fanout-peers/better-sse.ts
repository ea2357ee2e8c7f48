/**
 * Fan-out peer: better-sse 0.16 on `node:http`, the way its docs fan out: one `Channel` per room,
 * each subscriber a `Session` registered with it, each publish one `channel.broadcast(...)`.
 * Protocol: `_message.ts` (better-sse writes its own `retry: 2000` first, and `event: message`).
 * Run: `node --import tsx scripts/fanout-peers/better-sse.ts --port N`.
 *
 * @module
 */
import { createServer } from "node:http";
import { type Channel, createChannel, createSession } from "better-sse";
import { chatMessage, route } from "./_message.ts";
import { peerOptions } from "./_options.ts";

const channels = new Map<string, Channel>();
let nextId = 0;

const server = createServer(async (req, res) => {
  const target = route(req.method ?? "", (req.url ?? "").split("?")[0]!);
  if (target === null) {
    res.writeHead(404).end();
    return;
  }
  if (target.kind === "health") {
    let subscribers = 0;
    for (const channel of channels.values()) subscribers += channel.sessionCount;
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok", subscribers }));
    return;
  }
  let channel = channels.get(target.room);
  if (!channel) channels.set(target.room, (channel = createChannel()));
  if (target.kind === "events") {
    channel.register(await createSession(req, res, { retry: 2000 }));
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  for await (const chunk of req) body += chunk;
  const id = String(++nextId);
  const message = chatMessage(body, id, target.room);
  if (message === null) {
    res.writeHead(400).end();
    return;
  }
  channel.broadcast(message, "message", { eventId: id });
  res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id }));
});

const { host, port } = peerOptions();
server.listen(port, host, () => console.log(`better-sse listening on http://${host}:${port}`));
process.on("SIGTERM", () => process.exit(0));
