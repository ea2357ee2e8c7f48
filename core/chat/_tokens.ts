/**
 * Private: access tokens for private rooms — JSON Web Tokens (RFC 7519) signed HS256 (HMAC
 * SHA-256, a shared secret) or ES256 (ECDSA P-256, a public key), verified with Web Crypto.
 * Mercure's model without a separate hub: the claim `eddy` lists the rooms one may `subscribe`
 * to and `publish` to (`"*"` for all), and `exp` bounds the token's life.
 *
 * @module
 */
import { fromBase64url } from "./_base64url.ts";

/** What a valid token allows, and until when (ms since the epoch; `Infinity` without `exp`). */
export type Grant = {
  readonly subscribe: readonly string[];
  readonly publish: readonly string[];
  readonly expires: number;
};

/** How tokens are checked: the key of each accepted algorithm. */
export type TokenKeys = { readonly hs256?: string; readonly es256?: JsonWebKey };

/**
 * Verifies tokens against the configured keys.
 *
 * @example
 * ```ts
 * import { Tokens } from "./_tokens.ts";
 * const tokens = new Tokens({ hs256: "a shared secret of at least 32 characters!!" });
 * console.log(await tokens.verify("not.a.token")); // undefined
 * ```
 */
export class Tokens {
  readonly #hs256: Promise<CryptoKey> | undefined;
  readonly #es256: Promise<CryptoKey> | undefined;

  constructor(keys: TokenKeys) {
    this.#hs256 =
      keys.hs256 === undefined
        ? undefined
        : crypto.subtle.importKey("raw", UTF8.encode(keys.hs256), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    this.#es256 =
      keys.es256 === undefined
        ? undefined
        : crypto.subtle.importKey("jwk", keys.es256, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  }

  /**
   * The grant of a compact JWS, if its signature verifies with a configured key, its `alg` is
   * one of those (never `none`), and it has not expired (`nbf`, when present, is respected too).
   *
   * @param token `header.payload.signature`, base64url.
   * @param now The clock, ms.
   */
  async verify(token: string, now = Date.now()): Promise<Grant | undefined> {
    const parts = token.split(".");
    if (parts.length !== 3 || parts.some((part) => !/^[A-Za-z0-9_-]*$/.test(part))) return undefined;
    const [head, body, signature] = parts as [string, string, string];
    const header = parseJson(head);
    const payload = parseJson(body);
    if (header === undefined || payload === undefined) return undefined;
    const data = UTF8.encode(`${head}.${body}`);
    const bytes = fromBase64url(signature);
    let valid = false;
    if (header.alg === "HS256" && this.#hs256 !== undefined) {
      valid = await crypto.subtle.verify("HMAC", await this.#hs256, bytes, data);
    } else if (header.alg === "ES256" && this.#es256 !== undefined) {
      valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await this.#es256, bytes, data);
    }
    if (!valid) return undefined;
    const expires = typeof payload.exp === "number" ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
    if (expires <= now) return undefined;
    if (typeof payload.nbf === "number" && payload.nbf * 1000 > now) return undefined;
    const claim = (payload.eddy ?? {}) as { subscribe?: unknown; publish?: unknown };
    return { subscribe: rooms(claim.subscribe), publish: rooms(claim.publish), expires };
  }
}

/** Whether a grant's list allows `room`. */
export function allows(list: readonly string[], room: string): boolean {
  return list.includes("*") || list.includes(room);
}

/**
 * The token a request carries: `Authorization: Bearer <token>`, else the `eddy_token` cookie
 * (a browser's `EventSource` cannot send headers).
 */
export function requestToken(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  const bearer = authorization === null ? null : /^Bearer\s+(\S+)$/i.exec(authorization);
  if (bearer !== null && bearer !== undefined) return bearer[1];
  for (const pair of (request.headers.get("cookie") ?? "").split(";")) {
    const at = pair.indexOf("=");
    if (at !== -1 && pair.slice(0, at).trim() === "eddy_token") return pair.slice(at + 1).trim();
  }
  return undefined;
}

const UTF8 = new TextEncoder();

function rooms(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((room): room is string => typeof room === "string") : [];
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(fromBase64url(part)));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
