/**
 * Private: the chat app an entry point serves, built from its {@link Config}. Shared by the
 * Node, Bun and Deno entry points.
 *
 * @module
 */
import { createChatApp, openAIResponder, typewriterResponder, type ChatApp, type ChatAppOptions } from "../core/chat/mod.ts";
import { readAssets } from "./_assets.ts";
import type { Config } from "./_config.ts";

/**
 * Creates the chat app for `config`: its limits, its bot (`typewriter`, `openai` or none), and
 * the page files from `web/`.
 *
 * @param config The parsed settings.
 * @param warn Told about anything odd that does not stop the server (e.g. missing page files).
 * @returns The app; the caller mounts `app.fetch` and calls `app.close()` on shutdown.
 * @throws {RangeError} If the chat app refuses a limit.
 *
 * @example
 * ```ts
 * import { createAppFromConfig } from "./_app.ts";
 * import { parseConfig } from "./_config.ts";
 * const config = parseConfig(["--bot", "off"], {});
 * if (!("help" in config)) {
 *   const app = createAppFromConfig(config, console.warn);
 *   await app.close();
 * }
 * ```
 */
export function createAppFromConfig(config: Config, warn: (message: string) => void): ChatApp {
  const { assets, missing } = readAssets();
  if (missing.length > 0) warn(`page files not found, those paths will answer 404: ${missing.join(", ")}`);
  const options: ChatAppOptions = { assets, responder: responderFor(config) };
  if (config.historySize !== undefined) options.historySize = config.historySize;
  if (config.replayCount !== undefined) options.replayCount = config.replayCount;
  if (config.heartbeatMs !== undefined) options.heartbeatMs = config.heartbeatMs;
  if (config.queueLimit !== undefined) options.queueLimit = config.queueLimit;
  if (config.maxRooms !== undefined) options.maxRooms = config.maxRooms;
  return createChatApp(options);
}

function responderFor(config: Config): ChatAppOptions["responder"] {
  switch (config.bot) {
    case "off":
      return null;
    case "openai":
      if (config.openai === undefined) throw new RangeError('Cannot create the bot: "openai" needs a base URL and a model');
      return openAIResponder(config.openai);
    case "typewriter":
      return typewriterResponder(config.typewriterMs === undefined ? {} : { delayMs: config.typewriterMs });
  }
}
