/**
 * Private: the chat page's files (`web/`), read once at startup for `createChatApp({ assets })`.
 * Uses only `node:fs` and `import.meta.url`, so the Node, Bun and Deno entry points share it.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";

/** One static file served by the chat app. */
export type Asset = { body: string | Uint8Array; type: string };

/** URL path → file in `web/` and its media type. */
const FILES = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/chat.js", "chat.js", "text/javascript; charset=utf-8"],
  ["/chat.css", "chat.css", "text/css; charset=utf-8"],
] as const;

/**
 * Reads `web/index.html`, `web/chat.js` and `web/chat.css` of the package this module belongs
 * to (not of the working directory).
 *
 * @param webDir The folder holding the files; defaults to {@link findWebDir}.
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
export function readAssets(webDir: URL = findWebDir()): { assets: Record<string, Asset>; missing: string[] } {
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

/**
 * The package's `web/` folder: the nearest `web/index.html` found walking up from `from`. The
 * walk does not assume how deep this module sits (in `cli/`, a bundle, or `node_modules`).
 *
 * @param from Where to start; defaults to this module's folder.
 * @returns The folder's URL (with a trailing slash); if none is found, `web/` next to the
 *   package root as this checkout lays it out, so the missing files are reported by name.
 *
 * @example
 * ```ts
 * import { findWebDir } from "./_assets.ts";
 * console.log(findWebDir().pathname); // ".../eddy/web/"
 * ```
 */
export function findWebDir(from: URL = new URL("./", import.meta.url)): URL {
  for (let dir = from; ; dir = new URL("../", dir)) {
    const candidate = new URL("web/", dir);
    if (existsSync(new URL("index.html", candidate))) return candidate;
    if (dir.pathname === "/") return new URL("../web/", import.meta.url);
  }
}
