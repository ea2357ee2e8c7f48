/**
 * Private: who is posting. Each client gets a random user id in a signed session cookie, so the
 * author of a message is the server's word, not whatever name the client typed. Signed with
 * HMAC-SHA256 through Web Crypto (`crypto.subtle`), which every runtime has.
 *
 * @module
 */
import { base64url, fromBase64url } from "./_base64url.ts";

/** The cookie's name. */
export const SESSION_COOKIE = "eddy_session";
/** A year: the id is an identity, not a login. */
const MAX_AGE_S = 365 * 24 * 60 * 60;
const ID_BYTES = 16;
/** What a signed value is, so a signature can never be reused for another kind of value. */
const PURPOSE = "eddy-session-v1.";

/**
 * Issues and verifies session ids.
 *
 * @example
 * ```ts
 * import { Sessions } from "./_session.ts";
 * const sessions = new Sessions("a secret of at least 32 characters, from config");
 * const { userId, cookie } = await sessions.issue(false);
 * const token = cookie.split(";")[0]!.split("=")[1]!;
 * console.log((await sessions.verify(token)) === userId); // true
 * ```
 */
export class Sessions {
  readonly #key: Promise<CryptoKey>;
  /**
   * Tokens already verified, so a client's later posts need no signature check: Web Crypto is
   * asynchronous (a thread-pool round trip on Node), and a post must not wait behind a busy event
   * loop for it before it is published. Bounded; least recently used first.
   */
  readonly #verified = new Map<string, string>();

  /**
   * @param secret The signing secret (the same on every instance of one chat); `undefined`: a
   *   random one for this process, so sessions last until it restarts.
   */
  constructor(secret: string | undefined) {
    const material = secret === undefined ? crypto.getRandomValues(new Uint8Array(32)) : UTF8.encode(secret);
    this.#key = crypto.subtle.importKey("raw", material, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
  }

  /** A new random user id (not yet signed: {@link Sessions.cookie} makes its cookie). */
  newId(): string {
    return base64url(crypto.getRandomValues(new Uint8Array(ID_BYTES)));
  }

  /**
   * The `Set-Cookie` value that carries `userId`.
   *
   * @param secure Whether the client reached us over TLS (the cookie then says `Secure`).
   */
  async cookie(userId: string, secure: boolean): Promise<string> {
    const token = `${userId}.${await this.#sign(userId)}`;
    this.#remember(token, userId);
    const attributes = `Path=/; Max-Age=${MAX_AGE_S}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
    return `${SESSION_COOKIE}=${token}; ${attributes}`;
  }

  /** A new user id and its cookie: {@link Sessions.newId} then {@link Sessions.cookie}. */
  async issue(secure: boolean): Promise<{ userId: string; cookie: string }> {
    const userId = this.newId();
    return { userId, cookie: await this.cookie(userId, secure) };
  }

  /**
   * The user id a cookie value carries, if its signature is ours.
   *
   * @param token The cookie's value (`<userId>.<signature>`).
   * @returns The user id, or `undefined` for anything forged, truncated or malformed.
   */
  async verify(token: string): Promise<string | undefined> {
    const cached = this.#verified.get(token);
    if (cached !== undefined) {
      this.#remember(token, cached);
      return cached;
    }
    const match = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(token);
    if (match === null) return undefined;
    const [, userId, signature] = match as unknown as [string, string, string];
    // `verify` compares in constant time.
    const valid = await crypto.subtle.verify(
      "HMAC",
      await this.#key,
      fromBase64url(signature),
      UTF8.encode(PURPOSE + userId),
    );
    if (!valid) return undefined;
    this.#remember(token, userId);
    return userId;
  }

  async #sign(userId: string): Promise<string> {
    return base64url(new Uint8Array(await crypto.subtle.sign("HMAC", await this.#key, UTF8.encode(PURPOSE + userId))));
  }

  #remember(token: string, userId: string): void {
    this.#verified.delete(token);
    this.#verified.set(token, userId);
    if (this.#verified.size > VERIFIED_MAX) this.#verified.delete(this.#verified.keys().next().value!);
  }
}

/** Verified tokens kept (about 100 bytes each). */
const VERIFIED_MAX = 10_000;

/**
 * The session cookie's value in a `Cookie` header (RFC 6265 "cookie-string"), if present.
 *
 * @example
 * ```ts
 * import { sessionToken } from "./_session.ts";
 * sessionToken("theme=dark; eddy_session=abc.def"); // "abc.def"
 * ```
 */
export function sessionToken(cookieHeader: string | null): string | undefined {
  if (cookieHeader === null) return undefined;
  for (const pair of cookieHeader.split(";")) {
    const at = pair.indexOf("=");
    if (at !== -1 && pair.slice(0, at).trim() === SESSION_COOKIE) return pair.slice(at + 1).trim();
  }
  return undefined;
}

const UTF8 = new TextEncoder();
