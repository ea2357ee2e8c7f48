/**
 * Identity that can't be borrowed: the signed session cookie (HMAC-SHA256 via Web Crypto), and the
 * chat stamping each message with its author's session user id, whatever display name is typed.
 */
import { describe, expect, test } from "vitest";
import { type ChatMessage, createChatApp } from "../core/chat/mod.ts";
import { SESSION_COOKIE, Sessions, sessionToken } from "../core/chat/_session.ts";
import { BASE, drain } from "./_chat.ts";

const SECRET = "a test secret that is long enough to sign with";

describe("Sessions", () => {
  test("an issued id verifies; its cookie is HttpOnly, SameSite=Strict, for the whole site, Secure over TLS", async () => {
    const sessions = new Sessions(SECRET);
    const plain = await sessions.issue(false);
    expect(plain.userId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(plain.cookie).toMatch(
      new RegExp(
        `^${SESSION_COOKIE}=${plain.userId}\\.[A-Za-z0-9_-]{43}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict$`,
      ),
    );
    expect((await sessions.issue(true)).cookie).toMatch(/; Secure$/);
    const token = sessionToken(plain.cookie.split(";")[0]!)!;
    expect(await sessions.verify(token)).toBe(plain.userId);
    expect((await sessions.issue(false)).userId).not.toBe(plain.userId);
  });

  test("a forged, altered, foreign or malformed token verifies as nobody", async () => {
    const sessions = new Sessions(SECRET);
    const { cookie, userId } = await sessions.issue(false);
    const token = sessionToken(cookie)!;
    const [id, signature] = token.split(".") as [string, string];
    const other = await new Sessions("another secret, also long enough to sign").issue(false);
    const flip = (text: string) => (text[0] === "A" ? "B" : "A") + text.slice(1);
    for (const bad of [
      `${flip(id)}.${signature}`, // someone else's id with my signature
      `${id}.${flip(signature)}`,
      sessionToken(other.cookie)!, // signed with another secret
      `${id}.`,
      id,
      "",
      `${id}.${signature}x`,
      `${id}.${signature}`.replace(".", ".."),
    ]) {
      expect(await sessions.verify(bad), bad).toBeUndefined();
    }
    expect(await sessions.verify(token)).toBe(userId);
    // Instances of one chat share the secret: each accepts the others' sessions.
    expect(await new Sessions(SECRET).verify(token)).toBe(userId);
  });

  test("sessionToken finds the cookie among others", () => {
    expect(sessionToken(null)).toBeUndefined();
    expect(sessionToken("theme=dark")).toBeUndefined();
    expect(sessionToken(`theme=dark; ${SESSION_COOKIE}=abc.def; x=1`)).toBe("abc.def");
    expect(sessionToken(`not_${SESSION_COOKIE}=zzz`)).toBeUndefined();
  });
});

describe("the chat's authors", () => {
  const postAs = (app: ReturnType<typeof createChatApp>, user: string, cookie?: string, url = BASE) =>
    app.fetch(
      new Request(`${url}/rooms/lobby/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(cookie === undefined ? {} : { cookie }) },
        body: JSON.stringify({ user, text: `hello from ${user}` }),
      }),
    );
  const cookieOf = (response: Response) => response.headers.get("set-cookie")?.split(";")[0];

  test("a post without a session gets one; the message carries its user id; the cookie keeps it", async () => {
    const app = createChatApp({ responder: null, sessionSecret: SECRET });
    const reader = drain(await app.hub.subscribe("lobby", { replay: 0 }));
    const first = await postAs(app, "민수");
    expect(first.status).toBe(201);
    const cookie = cookieOf(first)!;
    const { id, userId } = (await first.json()) as { id: string; userId: string };
    expect(userId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    const again = await postAs(app, "민수", cookie);
    expect(again.headers.get("set-cookie")).toBeNull(); // known: no new session
    expect(((await again.json()) as { userId: string }).userId).toBe(userId);
    await reader.waitFor((items) => items.filter((item) => item.event === undefined).length === 2);
    const messages = reader.items
      .filter((item) => item.event === undefined)
      .map((item) => JSON.parse(item.data!) as ChatMessage);
    expect(messages[0]).toMatchObject({ id, user: "민수", userId });
    expect(Object.keys(messages[0]!)).toEqual(["id", "room", "user", "userId", "text", "time"]);
    // GET /session answers the same id for the page.
    const session = await app.fetch(new Request(`${BASE}/session`, { headers: { cookie } }));
    expect(await session.json()).toEqual({ userId });
    await app.close();
  });

  test("typing someone's name does not make you them; a forged cookie gets a fresh identity", async () => {
    const app = createChatApp({ responder: null, sessionSecret: SECRET });
    const ann = await postAs(app, "Ann");
    const annId = ((await ann.json()) as { userId: string }).userId;
    const impostor = await postAs(app, "Ann"); // no cookie: another person, same name
    const impostorId = ((await impostor.json()) as { userId: string }).userId;
    expect(impostorId).not.toBe(annId);
    const annToken = cookieOf(ann)!.split("=")[1]!;
    const forged = await postAs(app, "Ann", `${SESSION_COOKIE}=${annToken.slice(0, -2)}xx`);
    expect(((await forged.json()) as { userId: string }).userId).not.toBe(annId);
    expect(forged.headers.get("set-cookie")).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    await app.close();
  });

  test("the cookie is Secure over https, and behind a trusted proxy that says https", async () => {
    const direct = createChatApp({ responder: null });
    expect((await postAs(direct, "a", undefined, "https://chat.test")).headers.get("set-cookie")).toMatch(/; Secure$/);
    expect((await postAs(direct, "a")).headers.get("set-cookie")).not.toMatch(/Secure/);
    const proxied = createChatApp({ responder: null, trustProxy: 1 });
    const response = await proxied.fetch(new Request(`${BASE}/session`, { headers: { "x-forwarded-proto": "https" } }));
    expect(response.headers.get("set-cookie")).toMatch(/; Secure$/);
    // Not trusted: the header is ignored.
    const untrusted = await direct.fetch(new Request(`${BASE}/session`, { headers: { "x-forwarded-proto": "https" } }));
    expect(untrusted.headers.get("set-cookie")).not.toMatch(/Secure/);
    await Promise.all([direct.close(), proxied.close()]);
  });
});
