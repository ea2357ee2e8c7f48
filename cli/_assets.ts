/**
 * Private: the chat page's files (`web/`), read once at startup for `createChatApp({ assets })`.
 * Uses only `node:fs` and `import.meta.url`, so the Node, Bun and Deno entry points share it.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/** One static file served by the chat app. */
export type Asset = { body: string | Uint8Array; type: string };

const JAVASCRIPT = "text/javascript; charset=utf-8";

/** URL path → file in `web/` and its media type; plus the language files (see {@link pageFiles}). */
const FILES: readonly (readonly [path: string, file: string, type: string])[] = [
  ["/", "index.html", "text/html; charset=utf-8"],
  ["/chat.js", "chat.js", JAVASCRIPT],
  ["/chat.css", "chat.css", "text/css; charset=utf-8"],
  // The list of languages chat.js imports; each language is a file next to it (en.js, ko.js...).
  ["/i18n/languages.js", "i18n/languages.js", JAVASCRIPT],
];

/** A language's strings: `web/i18n/<tag>.js`, served as `/i18n/<tag>.js`. */
const LANGUAGE_FILE = /^[a-z][a-z0-9-]*\.js$/;

/**
 * Reads `web/index.html`, `web/chat.js`, `web/chat.css` and the UI strings (`web/i18n/languages.js`
 * and every language file next to it, served as `/i18n/<file>`) of the package this module belongs
 * to (not of the working directory). A language added to `web/i18n/` is served with no change here.
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
  for (const [path, file, type] of pageFiles(webDir)) {
    try {
      assets[path] = { body: readFileSync(new URL(file, webDir), "utf8"), type };
    } catch (error) {
      if ((error as { code?: unknown }).code !== "ENOENT") throw error;
      missing.push(`web/${file}`);
    }
  }
  return { assets, missing };
}

/** {@link FILES}, then every language file in `web/i18n/`, sorted (the folder may be absent). */
function pageFiles(webDir: URL): (readonly [path: string, file: string, type: string])[] {
  let names: string[] = [];
  try {
    names = readdirSync(new URL("i18n/", webDir)).filter((name) => LANGUAGE_FILE.test(name) && name !== "languages.js");
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ENOENT") throw error;
  }
  return [...FILES, ...names.sort().map((name) => [`/i18n/${name}`, `i18n/${name}`, JAVASCRIPT] as const)];
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
