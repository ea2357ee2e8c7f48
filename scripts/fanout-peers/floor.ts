/**
 * Fan-out peer: the floor. A plain `node:http` server that, per publish, builds one Buffer (the
 * whole SSE frame) and writes it to each response in the room's Set: the least work a Node
 * fan-out can do, against which the benchmark states every other server's cost.
 * Protocol: `_message.ts`. Run: `node --import tsx scripts/fanout-peers/floor.ts --port N`.
 *
 * @module
 */
import { createServer, type ServerResponse } from "node:http";
import { chatMessage, route, STREAM_START } from "./_message.ts";
import { peerOptions } from "./_options.ts";

const rooms = new Map<string, Set<ServerResponse>>();
let subscribers = 0;
let nextId = 0;

const server = createServer((req, res) => {
  const target = route(req.method ?? "", (req.url ?? "").split("?")[0]!);
  if (target === null) {
    res.writeHead(404).end();
    return;
  }
  if (target.kind === "health") {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok", subscribers }));
    return;
  }
  let room = rooms.get(target.room);
  if (!room) rooms.set(target.room, (room = new Set()));
  const members = room;
  if (target.kind === "events") {
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    res.write(STREAM_START);
    members.add(res);
    subscribers++;
    res.on("close", () => {
      members.delete(res);
      subscribers--;
    });
    return;
  }
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk: string) => (body += chunk));
  req.on("end", () => {
    const id = String(++nextId);
    const message = chatMessage(body, id, target.room);
    if (message === null) {
      res.writeHead(400).end();
      return;
    }
    const frame = Buffer.from(`id: ${id}\ndata: ${JSON.stringify(message)}\n\n`);
    for (const subscriber of members) subscriber.write(frame);
    res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ id }));
  });
});

const { host, port } = peerOptions();
server.listen(port, host, () => console.log(`floor listening on http://${host}:${port}`));
process.on("SIGTERM", () => process.exit(0));
