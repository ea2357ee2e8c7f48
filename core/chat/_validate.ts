/**
 * Input rules of `docs/PROTOCOL.md` ("Validation"). Every check returns a typed result; nothing
 * here throws to the client. A {@link Problem} carries the HTTP status and the one-sentence
 * message the route sends as `{"error": ...}`.
 *
 * @module
 */
import { isInvisible, skeleton } from "./_confusables.ts";

/**
 * What is wrong with a request: its status and a one-sentence message safe to show the client.
 *
 * @example
 * ```ts
 * import type { Checked } from "./_validate.ts";
 * const refused: Checked<unknown> = { ok: false, problem: { status: 413, error: "The body is larger than 16384 bytes" } };
 * ```
 */
type Problem = { readonly status: 400 | 413 | 415; readonly error: string };

/**
 * A checked value, or the problem that refused it.
 *
 * @example
 * ```ts
 * import { validateRoom, type Checked } from "./_validate.ts";
 * const room: Checked<string> = validateRoom("lobby");
 * if (room.ok) console.log(room.value);
 * ```
 */
export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: Problem };

/**
 * A validated `POST /rooms/:room/messages` body.
 *
 * @example
 * ```ts
 * import type { MessageBody } from "./_validate.ts";
 * const body: MessageBody = { user: "alice", text: "hello" };
 * ```
 */
export type MessageBody = { readonly user: string; readonly text: string };

/**
 * The largest request body read, in bytes (PROTOCOL.md: "body: at most 16 KiB").
 *
 * @example
 * ```ts
 * import { readJsonBody } from "./_validate.ts";
 * const body = JSON.stringify("x".repeat(16 * 1024)); // 16386 bytes
 * const request = new Request("http://chat.test/", { method: "POST", headers: { "content-type": "application/json" }, body });
 * (await readJsonBody(request)).ok; // false: 413 "The body is larger than 16384 bytes"
 * ```
 */
const MAX_BODY_BYTES = 16 * 1024;
/**
 * The longest message text, in characters (Unicode code points).
 *
 * @example
 * ```ts
 * import { validateMessageBody } from "./_validate.ts";
 * validateMessageBody({ user: "alice", text: "x".repeat(4000) }).ok; // true
 * validateMessageBody({ user: "alice", text: "x".repeat(4001) }).ok; // false
 * ```
 */
const MAX_TEXT_CHARS = 4000;
/**
 * The longest user name, in characters (Unicode code points), after trimming.
 *
 * @example
 * ```ts
 * import { validateMessageBody } from "./_validate.ts";
 * validateMessageBody({ user: "a".repeat(32), text: "hi" }).ok; // true
 * validateMessageBody({ user: "a".repeat(33), text: "hi" }).ok; // false
 * ```
 */
const MAX_USER_CHARS = 32;
/** The longest room name, in characters (Unicode code points), after NFC normalisation. */
const MAX_ROOM_CHARS = 64;

// Letters (with their combining marks, never first: a mark alone joins whatever precedes the
// name on a screen), decimal digits, _ and -. No space, separator, control, brace (a Redis key's
// hash tag is `{room}`) or other punctuation: a room name is a path segment and a key.
const ROOM = /^[\p{L}\p{Nd}_-][\p{L}\p{M}\p{Nd}_-]*$/u;
// Letters (with their combining marks, which many scripts need), decimal digits, space, _ - .
const USER = /^[\p{L}\p{M}\p{Nd} _.-]+$/u;
// C0 and C1 controls and DEL, except TAB and LF: NUL, ESC sequences, backspaces and the like
// would hide or rewrite text on other people's screens.
const TEXT_CONTROL = /[\0-\x08\x0B-\x1F\x7F-\x9F]/;
// A lone surrogate cannot be written as UTF-8; it would reach readers as U+FFFD.
const LONE_SURROGATE = /\p{Cs}/u;

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const fail = <T>(status: Problem["status"], error: string): Checked<T> => ({ ok: false, problem: { status, error } });

/**
 * Checks a room name taken from the path: percent-decoded, NFC-normalised, then 1–64 characters
 * of Unicode letters (with combining marks, not first), decimal digits, `_` and `-`, none of
 * them invisible (a Hangul filler is a letter to Unicode). The normalised name is the room: two
 * spellings of one name (precomposed or not) are one room, in every key and echo.
 *
 * @param segment The raw path segment.
 * @returns The normalised room name, or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateRoom } from "./_validate.ts";
 * validateRoom("general"); // { ok: true, value: "general" }
 * validateRoom(encodeURIComponent("회의실")); // { ok: true, value: "회의실" }
 * validateRoom(encodeURIComponent("Cafe\u0301")); // { ok: true, value: "Café" } (NFC: one code point é)
 * validateRoom("a%20b").ok; // false: a space is not allowed
 * validateRoom("%7Broom%7D").ok; // false: braces are not
 * ```
 */
export function validateRoom(segment: string): Checked<string> {
  let room: string;
  try {
    room = decodeURIComponent(segment).normalize("NFC");
  } catch {
    return fail(400, "The room name is not valid percent-encoding");
  }
  const length = codePoints(room);
  if (length === 0 || length > MAX_ROOM_CHARS || !ROOM.test(room)) {
    return fail(
      400,
      `The room name must be 1 to ${MAX_ROOM_CHARS} letters, digits, _ and - (no spaces or punctuation)`,
    );
  }
  for (const char of room) {
    if (isInvisible(char)) return fail(400, "The room name must not contain invisible characters");
  }
  return ok(room);
}

/** The longest `Idempotency-Key` taken: a UUID is 36 characters. */
const MAX_KEY_CHARS = 128;

/**
 * Checks a post's `Idempotency-Key` header (IETF httpapi draft "The Idempotency-Key HTTP Header
 * Field": a Structured Field string, so `"..."`; a bare token is taken too, as most clients send
 * one): 1–128 visible ASCII characters, without quote or backslash.
 *
 * @param header The header's value, if any.
 * @returns The key (`undefined` without the header), or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateIdempotencyKey } from "./_validate.ts";
 * validateIdempotencyKey('"8e0f-1"'); // { ok: true, value: "8e0f-1" }
 * validateIdempotencyKey(null); // { ok: true, value: undefined }
 * validateIdempotencyKey("").ok; // false
 * ```
 */
export function validateIdempotencyKey(header: string | null): Checked<string | undefined> {
  if (header === null) return ok(undefined);
  const key = header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (key.length === 0 || key.length > MAX_KEY_CHARS || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(key)) {
    return fail(
      400,
      `The Idempotency-Key header must be 1 to ${MAX_KEY_CHARS} visible ASCII characters, without " or \\`,
    );
  }
  return ok(key);
}

/**
 * Checks a user name: trimmed and NFC-normalised, 1–32 characters of Unicode letters, digits,
 * spaces, `_ - .`, not only invisible ones; `bot` and anything that looks like it (UTS #39 skeleton,
 * see `_confusables.ts`) is reserved. The one rule for a post's `user`, a typing body's and a
 * stream's `?user=`.
 *
 * @param value The `user` field of the body (or the query parameter).
 * @returns The normalised name, or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateUser } from "./_validate.ts";
 * validateUser("  Zoë  "); // { ok: true, value: "Zoë" }
 * validateUser("BOT").ok; // false: reserved
 * ```
 */
export function validateUser(value: unknown): Checked<string> {
  if (typeof value !== "string") return fail(400, 'The "user" field must be a string');
  const user = value.trim().normalize("NFC");
  const length = codePoints(user);
  if (length === 0 || length > MAX_USER_CHARS)
    return fail(400, `The user name must be 1 to ${MAX_USER_CHARS} characters after trimming`);
  if (!USER.test(user)) return fail(400, "The user name may only hold letters, digits, spaces, _, - and .");
  // Fillers such as U+3164 are letters to Unicode and show as nothing: no name at all.
  if (isInvisible(user)) return fail(400, "The user name must contain visible characters");
  // Look-alikes (fullwidth, Cyrillic or Greek letters, zero-width characters) cannot pose as the bot.
  if (skeleton(user).replace(/\s+/g, "") === "bot") {
    return fail(400, 'The user name "bot" (or one that looks like it) is reserved for the bot');
  }
  return ok(user);
}

/**
 * Checks message text: CRLF and CR become LF, trailing whitespace is trimmed, then it must hold
 * 1–4000 characters and no control character other than TAB and LF.
 *
 * @param value The `text` field of the body.
 * @returns The normalised text, or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateMessageBody } from "./_validate.ts";
 * validateMessageBody({ user: "alice", text: "one\r\ntwo  \n" }); // { ok: true, value: { user: "alice", text: "one\ntwo" } }
 * validateMessageBody({ user: "alice", text: "nul\u0000" }).ok; // false
 * ```
 */
function validateText(value: unknown): Checked<string> {
  if (typeof value !== "string") return fail(400, 'The "text" field must be a string');
  const text = value.replace(/\r\n?/g, "\n").trimEnd();
  if (text === "") return fail(400, "The text must not be empty");
  if (isInvisible(text)) return fail(400, "The text must contain visible characters");
  if (TEXT_CONTROL.test(text))
    return fail(400, "The text must not contain control characters other than tab and line feed");
  if (LONE_SURROGATE.test(text)) return fail(400, "The text must not contain lone surrogates");
  if (codePoints(text) > MAX_TEXT_CHARS) return fail(400, `The text must be at most ${MAX_TEXT_CHARS} characters`);
  return ok(text);
}

/**
 * Checks a parsed body: a JSON object with exactly the string fields `user` and `text`.
 *
 * @param value The result of `JSON.parse`.
 * @returns The normalised fields, or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateMessageBody } from "./_validate.ts";
 * validateMessageBody({ user: "alice", text: "hi" }); // ok
 * validateMessageBody({ user: "alice", text: "hi", admin: true }).ok; // false: extra field
 * ```
 */
export function validateMessageBody(value: unknown): Checked<MessageBody> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(400, 'The body must be a JSON object with "user" and "text"');
  }
  const extra = Object.keys(value).filter((key) => key !== "user" && key !== "text");
  if (extra.length > 0) return fail(400, `The body has unexpected fields: ${listed(extra)}`);
  const fields = value as { user?: unknown; text?: unknown };
  if (!("user" in fields)) return fail(400, 'The body is missing the "user" field');
  if (!("text" in fields)) return fail(400, 'The body is missing the "text" field');
  const user = validateUser(fields.user);
  if (!user.ok) return user;
  const text = validateText(fields.text);
  if (!text.ok) return text;
  return ok({ user: user.value, text: text.value });
}

/**
 * Checks a parsed `POST /rooms/:room/typing` body: a JSON object with exactly the string field
 * `user`, checked as a post's.
 *
 * @param value The result of `JSON.parse`.
 * @returns The normalised name, or a `400` problem.
 *
 * @example
 * ```ts
 * import { validateTypingBody } from "./_validate.ts";
 * validateTypingBody({ user: " ann " }); // { ok: true, value: "ann" }
 * validateTypingBody({ user: "ann", text: "hi" }).ok; // false: extra field
 * ```
 */
export function validateTypingBody(value: unknown): Checked<string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(400, 'The body must be a JSON object with "user"');
  }
  const extra = Object.keys(value).filter((key) => key !== "user");
  if (extra.length > 0) return fail(400, `The body has unexpected fields: ${listed(extra)}`);
  if (!("user" in value)) return fail(400, 'The body is missing the "user" field');
  return validateUser((value as { user?: unknown }).user);
}

/**
 * Reads a JSON request body: the content type must be `application/json` (charset, if given,
 * UTF-8), the body is read chunk by chunk and abandoned as soon as it passes `limit` bytes (never
 * buffering more), then decoded as strict UTF-8 and parsed.
 *
 * @param request The request; its body is consumed (or cancelled when refused).
 * @param limit The largest body accepted, in bytes. Default {@link MAX_BODY_BYTES}.
 * @returns The parsed JSON value, or a `415`, `413` or `400` problem.
 *
 * @example
 * ```ts
 * import { readJsonBody } from "./_validate.ts";
 * const request = new Request("http://chat.test/", {
 *   method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}',
 * });
 * const body = await readJsonBody(request); // { ok: true, value: { a: 1 } }
 * ```
 */
export async function readJsonBody(request: Request, limit: number = MAX_BODY_BYTES): Promise<Checked<unknown>> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    discard(request);
    return fail(415, "The Content-Type must be application/json (UTF-8)");
  }
  const bytes = await readBytes(request, limit);
  if (!bytes.ok) return bytes;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.value);
  } catch {
    return fail(400, "The body is not valid UTF-8");
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return fail(400, "The body is not valid JSON");
  }
}

/**
 * Parses an optional integer query parameter, clamping values above `max`.
 *
 * @param raw The parameter as given, or `null` when absent.
 * @param spec The parameter's name, smallest and largest values, and its default.
 * @returns The integer, or a `400` problem when `raw` is not a whole number ≥ `min`.
 *
 * @example
 * ```ts
 * import { integerParam } from "./_validate.ts";
 * integerParam("2000", { name: "limit", min: 1, max: 1000, fallback: 100 }); // { ok: true, value: 1000 }
 * ```
 */
export function integerParam(
  raw: string | null,
  spec: { name: string; min: number; max: number; fallback: number },
): Checked<number> {
  if (raw === null) return ok(spec.fallback);
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < spec.min) {
    return fail(400, `The "${spec.name}" parameter must be a whole number from ${spec.min} to ${spec.max}`);
  }
  return ok(Math.min(Number(raw), spec.max));
}

async function readBytes(request: Request, limit: number): Promise<Checked<Uint8Array>> {
  const tooLarge = (): Checked<Uint8Array> => fail(413, `The body is larger than ${limit} bytes`);
  const declared = request.headers.get("content-length");
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    discard(request);
    return tooLarge();
  }
  if (request.body === null) return ok(new Uint8Array(0));
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        // Stop at the first chunk past the limit: the rest is never pulled.
        reader.cancel().catch(() => {});
        return tooLarge();
      }
      chunks.push(value);
    }
  } catch {
    return fail(400, "The body could not be read");
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return ok(bytes);
}

function isJsonContentType(header: string | null): boolean {
  if (header === null) return false;
  const [essence = "", ...parameters] = header.split(";").map((part) => part.trim().toLowerCase());
  if (essence !== "application/json") return false;
  for (const parameter of parameters) {
    const [name, value = ""] = parameter.split("=", 2).map((part) => part.trim());
    if (name === "charset" && value.replace(/^"|"$/g, "") !== "utf-8") return false;
  }
  return true;
}

// A refused body is cancelled rather than left unread, so a streaming upload stops.
function discard(request: Request): void {
  if (request.body !== null && !request.bodyUsed) request.body.cancel().catch(() => {});
}

/** The first few field names, quoted and cut: they are the client's text. */
function listed(keys: readonly string[]): string {
  return keys
    .slice(0, 5)
    .map((key) => JSON.stringify(key.slice(0, 32)))
    .join(", ");
}

function codePoints(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    count++;
  }
  return count;
}
