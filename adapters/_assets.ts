/**
 * Private: the chat page's files (`web/`), read once at startup for `createChatApp({ assets })`.
 * Uses only `node:fs` and `import.meta.url`, so the Node, Bun and Deno entry points share it.
 *
 * @module
 */
import { readFileSync } from "node:fs";

/** One static file served by the chat app. */
export type Asset = { body: string | Uint8Array; type: string };

/** URL path → file in `web/` and its media type. */
const FILES = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/chat.js", "chat.js", "text/javascript; charset=utf-8"],
  ["/chat.css", "chat.css", "text/css; charset=utf-8"],
] as const;

/**
 * Reads `web/index.html`, `web/chat.js` and `web/chat.css` (relative to this module, not to the
 * working directory).
 *
 * @param webDir The folder holding the files; defaults to the repository's `web/`.
 * @returns The assets keyed by URL path, and the files that were missing (left out, so the app
 *   answers 404 for them; the caller decides whether to warn).
 * @throws {Error} If a file exists but cannot be read.
 *
 * @example
 * ```ts
 * import { readAssets } from "./_assets.ts";
 * const { assets, missing } = readAssets();
 * if (missing.length > 0) console.warn(`eddy: missing page files: ${missing.join(", ")}`);
 * ```
 */
export function readAssets(webDir: URL = new URL("../web/", import.meta.url)): { assets: Record<string, Asset>; missing: string[] } {
  const assets: Record<string, Asset> = {};
  const missing: string[] = [];
  for (const [path, file, type] of FILES) {
    try {
      assets[path] = { body: readFileSync(new URL(file, webDir), "utf8"), type };
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ENOENT") throw error;
      missing.push(`web/${file}`);
    }
  }
  return { assets, missing };
}
