/**
 * Private rooms: JWTs (HS256 and ES256, made here with Web Crypto) naming the rooms one may
 * subscribe and publish to; 401 without a valid token, 403 for a room the token does not list,
 * and a stream that ends when its token expires. Public rooms are unaffected.
 */
import { describe, expect, test } from "vitest";
import { createChatApp } from "../core/chat/mod.ts";
import { Tokens } from "../core/chat/_tokens.ts";
import { BASE } from "./_chat.ts";
import { waitFor } from "./_server.ts";

const SECRET = "a shared secret for private rooms, 32+ characters";
const b64url = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes).toString("base64url");

async function hs256(payload: object, secret = SECRET, header: object = { alg: "HS256", typ: "JWT" }): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const data = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  return `${data}.${b64url(new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(data))))}`;
}

const inSeconds = (s: number) => Math.floor(Date.now() / 1000) + s;

describe("Tokens", () => {
  test("HS256: a valid token gives its grant; tampered, foreign-key, expired, not-yet and alg none tokens give nothing", async () => {
    const tokens = new Tokens({ hs256: SECRET });
    const good = await hs256({ exp: inSeconds(60), eddy: { subscribe: ["a"], publish: ["*"] } });
    expect(await tokens.verify(good)).toMatchObject({ subscribe: ["a"], publish: ["*"] });
    const [h, p, sig] = good.split(".") as [string, string, string];
    const forgedPayload = b64url(JSON.stringify({ exp: inSeconds(60), eddy: { subscribe: ["*"] } }));
    for (const bad of [
      `${h}.${forgedPayload}.${sig}`,
      await hs256({ eddy: { subscribe: ["a"] } }, "another secret, also 32 characters long!!"),
      await hs256({ exp: inSeconds(-1), eddy: { subscribe: ["a"] } }),
      await hs256({ nbf: inSeconds(60), eddy: { subscribe: ["a"] } }),
      `${b64url(JSON.stringify({ alg: "none" }))}.${p}.`,
      "garbage",
      `${h}.${p}`,
    ]) {
      expect(await tokens.verify(bad), bad.slice(0, 40)).toBeUndefined();
    }
  });

  test("ES256 with a public key; an HS256 token is refused when only ES256 is configured", async () => {
    const pair = (await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const publicKey = await crypto.subtle.exportKey("jwk", pair.publicKey);
    const data = `${b64url(JSON.stringify({ alg: "ES256" }))}.${b64url(JSON.stringify({ eddy: { subscribe: ["vip"] } }))}`;
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      pair.privateKey,
      new TextEncoder().encode(data),
    );
    const tokens = new Tokens({ es256: publicKey });
    expect(await tokens.verify(`${data}.${b64url(new Uint8Array(signature))}`)).toMatchObject({ subscribe: ["vip"] });
    expect(await tokens.verify(await hs256({ eddy: { subscribe: ["vip"] } }))).toBeUndefined();
  });
});

describe("private rooms in the chat", () => {
  const app = () => createChatApp({ responder: null, privateRooms: { pattern: /^private-/, secret: SECRET } });
  const post = (chat: ReturnType<typeof app>, room: string, headers: Record<string, string> = {}) =>
    chat.fetch(
      new Request(`${BASE}/rooms/${room}/messages`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify({ user: "ann", text: "hi" }),
      }),
    );

  test("401 without a valid token, 403 for an unlisted room or action, 201/200 with the right grant; public rooms open", async () => {
    const chat = app();
    expect((await post(chat, "lobby")).status).toBe(201);
    const none = await post(chat, "private-team");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Bearer realm="eddy"');
    expect(await none.json()).toEqual({ error: "This room is private: send a valid, unexpired token" });
    const reader = await hs256({ exp: inSeconds(60), eddy: { subscribe: ["private-team"], publish: [] } });
    const writer = await hs256({ exp: inSeconds(60), eddy: { subscribe: [], publish: ["private-team"] } });
    expect((await post(chat, "private-team", { authorization: `Bearer ${reader}` })).status).toBe(403);
    expect((await post(chat, "private-other", { authorization: `Bearer ${writer}` })).status).toBe(403);
    expect((await post(chat, "private-team", { authorization: `Bearer ${writer}` })).status).toBe(201);
    // EventSource cannot send headers: the cookie works too.
    const stream = await chat.fetch(
      new Request(`${BASE}/rooms/private-team/events`, { headers: { cookie: `eddy_token=${reader}` } }),
    );
    expect(stream.status).toBe(200);
    await stream.body?.cancel();
    const refused = await chat.fetch(
      new Request(`${BASE}/rooms/private-team/events`, { headers: { cookie: `eddy_token=${writer}` } }),
    );
    expect(refused.status).toBe(403);
    await chat.close();
  });

  test("a stream ends when its token expires", async () => {
    const chat = app();
    const token = await hs256({ exp: inSeconds(1), eddy: { subscribe: ["private-team"] } });
    const response = await chat.fetch(
      new Request(`${BASE}/rooms/private-team/events`, { headers: { authorization: `Bearer ${token}` } }),
    );
    expect(response.status).toBe(200);
    let ended = false;
    void (async () => {
      const reader = response.body!.getReader();
      while (!(await reader.read()).done);
      ended = true;
    })();
    await waitFor(() => ended, { timeoutMs: 5000, what: "the stream to end at the token's expiry" });
    await chat.close();
  });

  test("a private-room configuration without a key, or with a short secret, is refused", () => {
    expect(() => createChatApp({ privateRooms: { pattern: /x/ } })).toThrow(RangeError);
    expect(() => createChatApp({ privateRooms: { pattern: /x/, secret: "short" } })).toThrow("at least 32 characters");
  });
});
