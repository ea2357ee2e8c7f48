/**
 * The chat's event types are declared once (`CHAT_EVENTS` in core/chat/wire.ts): the frames the
 * hubs send decode back with that declaration to what was sent, and the README's table of event
 * types lists exactly the declared names.
 */
import { readFileSync } from "node:fs";
import { expect, test } from "vitest";
import { CHAT_EVENTS, encodeRoomEvent, type RoomEvent } from "../core/chat/mod.ts";
import { parseEventStream, toEventStream } from "../core/mod.ts";

const EVENTS: RoomEvent[] = [
  {
    type: "message",
    message: {
      id: "e-1",
      room: "lobby",
      user: "민지",
      userId: "u1",
      text: "안녕\n하세요",
      time: "2026-12-01T00:00:00.000Z",
    },
  },
  { type: "presence", room: "lobby", subscribers: 3, users: [{ userId: "u1", user: "민지" }] },
  { type: "reset", reason: "history-truncated", lastEventId: "e-0", oldestId: "e-1" },
  {
    type: "reply-start",
    replyId: "r1",
    room: "lobby",
    user: "bot",
    inReplyTo: "e-1",
    time: "2026-12-01T00:00:01.000Z",
    text: "",
  },
  { type: "reply-delta", replyId: "r1", delta: "안녕" },
  { type: "typing", room: "회의실", user: "민지", userId: "u1" },
];

test("every room event the hubs frame decodes back, by CHAT_EVENTS, to what was sent", async () => {
  const received = [];
  for await (const event of parseEventStream(toEventStream(EVENTS.map(encodeRoomEvent)))) {
    received.push(CHAT_EVENTS.decode(event));
  }
  expect(received).toEqual(
    EVENTS.map((event) => {
      const { type, ...payload } = event;
      return { type, data: event.type === "message" ? event.message : payload, lastEventId: "e-1" };
    }),
  );
});

test("a presence without users is framed with an empty list; typing carries no id", () => {
  expect(encodeRoomEvent({ type: "presence", room: "lobby", subscribers: 2 }).frame).toBe(
    'event: presence\ndata: {"room":"lobby","subscribers":2,"users":[]}\n\n',
  );
  expect(encodeRoomEvent({ type: "typing", room: "lobby", user: "ann", userId: "u1" }).frame).toBe(
    'event: typing\ndata: {"room":"lobby","user":"ann","userId":"u1"}\n\n',
  );
});

test("the README's table of event types lists exactly the declared ones", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("### Event types on `/rooms/:room/events`"));
  const start = section.indexOf("\n|") + 1;
  const table = section.slice(start, section.indexOf("\n\n", start));
  const rows = table.split("\n").slice(2); // after the header and its rule
  const names = rows.map((row) => /^\| (?:\*\(none\)\* → )?`([^`]+)` \|/.exec(row)?.[1]);
  expect(new Set(names)).toEqual(new Set(CHAT_EVENTS.names));
  expect(names).toHaveLength(CHAT_EVENTS.names.length);
});
