/**
 * Private: the chat server's command line and environment, shared by the Node, Bun and Deno
 * entry points. Pure: it reads only the `argv` and `env` it is given (no `process`, no `Deno`),
 * and uses `node:util` `parseArgs`, which all three runtimes provide.
 *
 * Precedence: a flag beats its environment variable, which beats the default. An empty
 * environment variable counts as unset.
 *
 * @module
 */
import { parseArgs } from "node:util";

/** Which bot answers chat messages. */
export type BotKind = "typewriter" | "openai" | "off";

/**
 * The server's settings after parsing. Absent limits mean "the chat app's default"; the defaults
 * shown by `--help` are those of `createChatApp` and `typewriterResponder`.
 */
export type Config = {
  /** Interface to listen on. */
  host: string;
  /** TCP port; `0` picks a free one. */
  port: number;
  /** Messages kept per room (the resume window). */
  historySize?: number;
  /** Messages a new client gets when it connects without a cursor. */
  replayCount?: number;
  /** Milliseconds between heartbeat comments on an idle stream. */
  heartbeatMs?: number;
  /** Events queued per subscriber before it is disconnected as too slow. */
  queueLimit?: number;
  /** Rooms kept at once. */
  maxRooms?: number;
  /** Milliseconds between the typewriter bot's chunks. */
  typewriterMs?: number;
  /** The bot. */
  bot: BotKind;
  /** OpenAI-compatible endpoint; present exactly when `bot` is `"openai"`. */
  openai?: { baseUrl: string; model: string; apiKey?: string };
};

/**
 * A command line or environment the server cannot start with. Entry points print its message
 * and exit with {@link ConfigError.exitCode} (2, the usual code for a usage error).
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "./_config.ts";
 * try {
 *   parseConfig(["--port", "http"], {});
 * } catch (error) {
 *   if (error instanceof ConfigError) console.error(error.message); // Invalid --port: ...
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The process exit code for a usage error. */
  readonly exitCode = 2;
  override name = "ConfigError";
}

type Option = {
  flag: string;
  env?: string;
  short?: string;
  type: "string" | "boolean";
  value?: string;
  default?: string;
  help: string;
};

/** Every option, in `--help` order. */
const OPTIONS: readonly Option[] = [
  { flag: "host", env: "HOST", type: "string", value: "ADDR", default: "127.0.0.1", help: "interface to listen on; hosting platforms usually set HOST=0.0.0.0" },
  { flag: "port", env: "PORT", type: "string", value: "N", default: "8080", help: "TCP port, 0-65535 (0 picks a free port)" },
  { flag: "history", env: "EDDY_HISTORY", type: "string", value: "N", default: "500", help: "messages kept per room: how far back a client can resume" },
  { flag: "replay", env: "EDDY_REPLAY", type: "string", value: "N", default: "50", help: "messages a new client gets when it has no Last-Event-ID" },
  { flag: "heartbeat", env: "EDDY_HEARTBEAT_MS", type: "string", value: "MS", default: "15000", help: "milliseconds between heartbeat comments on an idle stream" },
  { flag: "queue", env: "EDDY_QUEUE", type: "string", value: "N", default: "1024", help: "events queued per subscriber before it is cut off as too slow" },
  { flag: "max-rooms", env: "EDDY_MAX_ROOMS", type: "string", value: "N", default: "10000", help: "rooms kept at once" },
  { flag: "bot", env: "EDDY_BOT", type: "string", value: "KIND", default: "typewriter", help: "who answers: typewriter | openai | off" },
  { flag: "typewriter-ms", env: "EDDY_TYPEWRITER_MS", type: "string", value: "MS", default: "40", help: "milliseconds between the typewriter bot's words" },
  { flag: "openai-base-url", env: "OPENAI_BASE_URL", type: "string", value: "URL", help: "OpenAI-compatible server origin, without /v1 (required with --bot openai)" },
  { flag: "openai-model", env: "OPENAI_MODEL", type: "string", value: "NAME", help: "model name (required with --bot openai); the key comes only from OPENAI_API_KEY" },
  { flag: "help", short: "h", type: "boolean", help: "print this help and exit" },
];

/**
 * The `--help` text: every option with its value, default and environment variable.
 *
 * @param program How to name the program in the usage line.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { helpText } from "./_config.ts";
 * console.log(helpText("npm start --"));
 * ```
 */
export function helpText(program = "eddy"): string {
  const rows = OPTIONS.map((option) => {
    const name = `${option.short === undefined ? "    " : `-${option.short}, `}--${option.flag}${option.value === undefined ? "" : ` ${option.value}`}`;
    const notes = [option.default === undefined ? "" : `default: ${option.default}`, option.env === undefined ? "" : `env: ${option.env}`]
      .filter((note) => note !== "")
      .join(", ");
    return `  ${name.padEnd(28)} ${option.help}${notes === "" ? "" : ` (${notes})`}`;
  });
  return [
    `Usage: ${program} [options]`,
    "",
    "eddy chat server: rooms of Server-Sent Events with resume, and a streaming bot.",
    "",
    "Options (a flag beats its environment variable):",
    ...rows,
    "",
    "Environment only: OPENAI_API_KEY (sent as a bearer token to the OpenAI-compatible API).",
    "",
  ].join("\n");
}

/**
 * Parses the server's command line and environment.
 *
 * @param argv The arguments after the script name (e.g. `process.argv.slice(2)`).
 * @param env The environment (e.g. `process.env`); only the variables listed in `--help` are read.
 * @returns The settings, or `{ help }` when `--help`/`-h` was given.
 * @throws {ConfigError} On an unknown flag, a missing value, a value that is not a valid number,
 *   a port outside 0-65535, an unknown bot, or `openai` without a base URL and model.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./_config.ts";
 * const config = parseConfig(["--port", "0", "--bot", "off"], { HOST: "0.0.0.0", PORT: "3000" });
 * // { host: "0.0.0.0", port: 0, bot: "off" }: the flag beats PORT
 * ```
 */
export function parseConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Config | { help: string } {
  const values = parseFlags(argv);
  if (values.help === true) return { help: helpText() };
  const pick = (flag: string): string | undefined => {
    const fromFlag = values[flag];
    if (typeof fromFlag === "string") return fromFlag;
    const name = OPTIONS.find((option) => option.flag === flag)?.env;
    const fromEnv = name === undefined ? undefined : env[name];
    return fromEnv === undefined || fromEnv === "" ? undefined : fromEnv;
  };
  const host = pick("host") ?? "127.0.0.1";
  if (host.trim() === "" || /\s/.test(host)) throw new ConfigError(`Invalid --host: "${host}" is not an address`);
  const config: Config = { host, port: integer("port", pick("port") ?? "8080", 0, 65_535), bot: botKind(pick("bot") ?? "typewriter") };
  const limits = [
    ["history", "historySize", 1],
    ["replay", "replayCount", 0],
    ["heartbeat", "heartbeatMs", 1],
    ["queue", "queueLimit", 1],
    ["max-rooms", "maxRooms", 1],
    ["typewriter-ms", "typewriterMs", 0],
  ] as const;
  for (const [flag, key, min] of limits) {
    const text = pick(flag);
    if (text !== undefined) config[key] = integer(flag, text, min, Number.MAX_SAFE_INTEGER);
  }
  if (config.bot === "openai") {
    const baseUrl = pick("openai-base-url");
    const model = pick("openai-model");
    if (baseUrl === undefined || model === undefined) {
      throw new ConfigError("Invalid --bot openai: it needs --openai-base-url (or OPENAI_BASE_URL) and --openai-model (or OPENAI_MODEL)");
    }
    if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
      throw new ConfigError(`Invalid --openai-base-url: "${baseUrl}" is not an http(s) URL`);
    }
    const apiKey = env.OPENAI_API_KEY;
    config.openai = apiKey === undefined || apiKey === "" ? { baseUrl, model } : { baseUrl, model, apiKey };
  }
  return config;
}

function parseFlags(argv: readonly string[]): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const option of OPTIONS) {
    options[option.flag] = option.short === undefined ? { type: option.type } : { type: option.type, short: option.short };
  }
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs' messages already name the flag ("Unknown option '--prot'..."); keep them.
    throw new ConfigError(`Invalid command line: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
    throw new ConfigError(`Invalid --${flag}: "${text}" is not ${range}`);
  }
  return value;
}

function botKind(text: string): BotKind {
  if (text === "typewriter" || text === "openai" || text === "off") return text;
  throw new ConfigError(`Invalid --bot: "${text}" is not one of typewriter, openai, off`);
}

/** What an entry point does with its command line: start with `config`, or print and exit. */
export type Startup = { config: Config } | { exitCode: 0 | 2; stream: "stdout" | "stderr"; text: string };

/**
 * {@link parseConfig} for entry points: `--help` becomes "print to stdout, exit 0", a
 * {@link ConfigError} becomes "print the message and a hint to stderr, exit 2". Other errors are
 * bugs and propagate.
 *
 * @param argv The arguments after the script name.
 * @param env The environment.
 * @returns The settings, or what to print and the exit code.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { startupConfig } from "./_config.ts";
 * const startup = startupConfig(process.argv.slice(2), process.env);
 * if ("exitCode" in startup) {
 *   process[startup.stream].write(startup.text);
 *   process.exit(startup.exitCode);
 * }
 * ```
 */
export function startupConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Startup {
  try {
    const parsed = parseConfig(argv, env);
    return "help" in parsed ? { exitCode: 0, stream: "stdout", text: parsed.help } : { config: parsed };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { exitCode: error.exitCode, stream: "stderr", text: `eddy: ${error.message}\nRun with --help to see the options.\n` };
  }
}
