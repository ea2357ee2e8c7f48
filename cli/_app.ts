/**
 * Private: the chat app the program serves, built from its {@link Config}. Shared by the
 * Node, Bun and Deno entries.
 *
 * @module
 */
import { type ChatApp, type ChatAppOptions, createChatApp, type Hub, openAIResponder } from "../core/chat/mod.ts";
import { readAssets } from "./_assets.ts";
import type { Config } from "./_config.ts";

/**
 * Creates the chat app for `config`: its limits, its bot (`typewriter`, `openai` or none), and
 * the page files from `web/`.
 *
 * @param config The parsed settings.
 * @param warn Told about anything odd that does not stop the server (e.g. missing page files).
 * @param hub The hub to serve (the Redis hub when `--redis` is set); default the in-memory one.
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
export function createAppFromConfig(config: Config, warn: (message: string) => void, hub?: Hub): ChatApp {
  const { assets, missing } = readAssets();
  if (missing.length > 0) warn(`page files not found, those paths will answer 404: ${missing.join(", ")}`);
  // The chat options are the config minus where to listen and which bot: pass them as they are.
  const {
    host: _host,
    port: _port,
    bot,
    openai,
    redis: _redis,
    rateLimit,
    sessionSecret,
    corsOrigins,
    privateRooms,
    ...limits
  } = config;
  const options: ChatAppOptions = { ...limits, assets, rateLimit };
  if (corsOrigins !== undefined) options.corsOrigins = corsOrigins;
  if (privateRooms !== undefined) options.privateRooms = privateRooms;
  if (sessionSecret !== undefined) options.sessionSecret = sessionSecret;
  if (hub !== undefined) options.hub = hub;
  if (bot === "off") options.responder = null;
  if (bot === "openai") {
    if (openai === undefined) throw new RangeError('Cannot create the bot: "openai" needs a base URL and a model');
    options.responder = openAIResponder(openai);
  }
  return createChatApp(options); // "typewriter": the app's default bot, paced by typewriterMs
}
