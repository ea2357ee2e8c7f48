/**
 * Private to the fan-out peers: the one protocol every peer speaks, so one load generator drives
 * them all (and eddy's chat server, whose routes these mirror):
 *
 * - `GET /rooms/<room>/events`: an SSE stream, starting with `retry: 2000` (as eddy's does), then
 *   one event per message: `id: <n>`, `data: {"id","room","user","text","time"}` (eddy's fields);
 * - `POST /rooms/<room>/messages` with JSON `{"user","text"}` → `201 {"id"}`;
 * - `GET /healthz` → `{"status":"ok","subscribers"}`: how many streams are subscribed.
 *
 * @module
 */

/** Where a request goes: `{ kind: "events" | "messages", room }`, `{ kind: "health" }`, or null. */
export function route(
  method: string,
  pathname: string,
): { kind: "events" | "messages" | "health"; room: string } | null {
  if (pathname === "/healthz" && method === "GET") return { kind: "health", room: "" };
  const match = /^\/rooms\/([A-Za-z0-9_-]{1,64})\/(events|messages)$/.exec(pathname);
  if (!match) return null;
  const kind = match[2] as "events" | "messages";
  if ((kind === "events" && method !== "GET") || (kind === "messages" && method !== "POST")) return null;
  return { kind, room: match[1]! };
}

/** A chat message as eddy stores it, or null if the body is not `{"user": string, "text": string}`. */
export function chatMessage(
  body: string,
  id: string,
  room: string,
): { id: string; room: string; user: string; text: string; time: string } | null {
  try {
    const { user, text } = JSON.parse(body);
    if (typeof user !== "string" || typeof text !== "string") return null;
    return { id, room, user, text, time: new Date().toISOString() };
  } catch {
    return null;
  }
}

/** The first bytes of every stream: eddy's `retry` line (it also sends the response head at once). */
export const STREAM_START = "retry: 2000\n\n";
