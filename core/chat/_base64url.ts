/**
 * Private: base64url (RFC 4648 section 5, no padding), as cookies and JSON Web Tokens carry bytes.
 * `atob`'s forgiving decode accepts the unpadded form.
 *
 * @module
 */

/**
 * Bytes as base64url text.
 *
 * @example
 * ```ts
 * import { base64url } from "./_base64url.ts";
 * base64url(new Uint8Array([251, 255])); // "-_8"
 * ```
 */
export function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * Base64url text as bytes.
 *
 * @throws {DOMException} If it is not base64url.
 *
 * @example
 * ```ts
 * import { fromBase64url } from "./_base64url.ts";
 * fromBase64url("-_8"); // Uint8Array [251, 255]
 * ```
 */
export function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
