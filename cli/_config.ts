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
import { CHAT_OPTIONS, type ChatNumericOptions, type ChatOptionName } from "../core/chat/mod.ts";

/** Which bot answers chat messages. */
type BotKind = "typewriter" | "openai" | "off";

/** The chat options the command line can set: those of {@link CHAT_OPTIONS} with a `flag`. */
type FlaggedName = {
  [Name in ChatOptionName]: (typeof CHAT_OPTIONS)[Name] extends { flag: string } ? Name : never;
}[ChatOptionName];

/**
 * The server's settings after parsing. An absent chat option means "the chat app's default"
 * (shown by `--help`, from {@link CHAT_OPTIONS}).
 */
export type Config = Pick<ChatNumericOptions, FlaggedName> & {
  /** Interface to listen on. */
  host: string;
  /** TCP port; `0` picks a free one. */
  port: number;
  /** The bot. */
  bot: BotKind;
  /** OpenAI-compatible endpoint; present exactly when `bot` is `"openai"`. */
  openai?: { baseUrl: string; model: string; apiKey?: string };
  /** Per-client rate limits (`--rate-limit on|off`). */
  rateLimit: boolean;
  /** Private rooms (`--private-rooms REGEX`, keys from `EDDY_JWT_SECRET` / `EDDY_JWT_PUBLIC_KEY`). */
  privateRooms?: { pattern: RegExp; secret?: string; publicKey?: JsonWebKey };
  /** Origins allowed to use the API cross-origin (`--cors-origin`, comma-separated). */
  corsOrigins?: string[];
  /** Signs session cookies; from `EDDY_SESSION_SECRET` only (a secret does not belong in `ps`). */
  sessionSecret?: string;
  /** The Redis hub's server and key prefix; absent: the embedded in-memory hub. */
  redis?: { url: string; prefix: string; replyLeaseMs?: number };
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
  /** For a chat option: its key in {@link CHAT_OPTIONS}, the least value it takes, whether only whole numbers. */
  chat?: { name: FlaggedName; min: number; whole: boolean };
};

/** The chat options as flags, in {@link CHAT_OPTIONS} order. */
const CHAT_FLAGS: readonly Option[] = Object.entries(CHAT_OPTIONS).flatMap(([name, option]) => {
  if (!("flag" in option)) return [];
  const whole = option.kind.endsWith("integer");
  const min = option.kind.startsWith("a positive") && whole ? 1 : 0;
  const { flag, env, value, help } = option;
  return [
    {
      flag,
      env,
      type: "string",
      value,
      default: String(option.default),
      help,
      chat: { name: name as FlaggedName, min, whole },
    },
  ];
});

/** Every option, in `--help` order: where to listen, the chat's limits, the bot. */
const OPTIONS: readonly Option[] = [
  {
    flag: "host",
    env: "HOST",
    type: "string",
    value: "ADDR",
    default: "127.0.0.1",
    help: "interface to listen on; hosting platforms usually set HOST=0.0.0.0",
  },
  {
    flag: "port",
    env: "PORT",
    type: "string",
    value: "N",
    default: "8080",
    help: "TCP port, 0-65535 (0 picks a free port)",
  },
  ...CHAT_FLAGS,
  {
    flag: "bot",
    env: "EDDY_BOT",
    type: "string",
    value: "KIND",
    default: "typewriter",
    help: "who answers: typewriter | openai | off",
  },
  {
    flag: "openai-base-url",
    env: "OPENAI_BASE_URL",
    type: "string",
    value: "URL",
    help: "OpenAI-compatible server origin, without /v1 (required with --bot openai)",
  },
  {
    flag: "openai-model",
    env: "OPENAI_MODEL",
    type: "string",
    value: "NAME",
    help: "model name (required with --bot openai); the key comes only from OPENAI_API_KEY",
  },
  {
    flag: "rate-limit",
    env: "EDDY_RATE_LIMIT",
    type: "string",
    value: "on|off",
    default: "on",
    help: "per-client limits on posts, new streams and new rooms (429 with Retry-After)",
  },
  {
    flag: "private-rooms",
    env: "EDDY_PRIVATE_ROOMS",
    type: "string",
    value: "REGEX",
    help: "rooms matching it need a JWT (HS256 key from EDDY_JWT_SECRET, ES256 JWK from EDDY_JWT_PUBLIC_KEY)",
  },
  {
    flag: "cors-origin",
    env: "EDDY_CORS_ORIGIN",
    type: "string",
    value: "ORIGINS",
    help: "comma-separated origins (https://app.example) whose pages may use the API; default: same origin only",
  },
  {
    flag: "redis",
    env: "REDIS_URL",
    type: "string",
    value: "URL",
    help: "redis:// or rediss:// URL: rooms live in Redis, shared by every instance using it; without it, in memory",
  },
  {
    flag: "redis-prefix",
    env: "EDDY_REDIS_PREFIX",
    type: "string",
    value: "NAME",
    default: "eddy",
    help: "prefix of the Redis keys and channels (instances of one chat share it)",
  },
  {
    flag: "redis-reply-lease",
    env: "EDDY_REDIS_REPLY_LEASE_MS",
    type: "string",
    value: "MS",
    default: "10000",
    help: "with --redis: a bot reply whose instance stopped is ended by another after this long",
  },
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
export function helpText(program = "eddy serve"): string {
  const rows = OPTIONS.map((option) => {
    const name = `${option.short === undefined ? "    " : `-${option.short}, `}--${option.flag}${option.value === undefined ? "" : ` ${option.value}`}`;
    const notes = [
      option.default === undefined ? "" : `default: ${option.default}`,
      option.env === undefined ? "" : `env: ${option.env}`,
    ]
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
    "Environment only: OPENAI_API_KEY (sent as a bearer token to the OpenAI-compatible API),",
    "  EDDY_SESSION_SECRET (signs session cookies, 32+ characters; the same on every instance; default: random per start),",
    "  EDDY_JWT_SECRET / EDDY_JWT_PUBLIC_KEY (the HS256 secret or ES256 public JWK that private rooms' tokens are checked with).",
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
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): Config | { help: string } {
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
  const config: Config = {
    host,
    port: integer("port", pick("port") ?? "8080", 0, 65_535),
    bot: botKind(pick("bot") ?? "typewriter"),
    rateLimit: onOff("rate-limit", pick("rate-limit") ?? "on"),
  };
  for (const option of CHAT_FLAGS) {
    const text = pick(option.flag);
    if (text !== undefined && option.chat !== undefined) {
      config[option.chat.name] = option.chat.whole
        ? integer(option.flag, text, option.chat.min, Number.MAX_SAFE_INTEGER)
        : decimal(option.flag, text, CHAT_OPTIONS[option.chat.name].kind.startsWith("a positive"));
    }
  }
  if (config.bot === "openai") {
    const baseUrl = pick("openai-base-url");
    const model = pick("openai-model");
    if (baseUrl === undefined || model === undefined) {
      throw new ConfigError(
        "Invalid --bot openai: it needs --openai-base-url (or OPENAI_BASE_URL) and --openai-model (or OPENAI_MODEL)",
      );
    }
    if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol)) {
      throw new ConfigError(`Invalid --openai-base-url: "${baseUrl}" is not an http(s) URL`);
    }
    const apiKey = env.OPENAI_API_KEY;
    config.openai = apiKey === undefined || apiKey === "" ? { baseUrl, model } : { baseUrl, model, apiKey };
  }
  const privateRooms = pick("private-rooms");
  if (privateRooms !== undefined) {
    let pattern: RegExp;
    try {
      pattern = new RegExp(privateRooms);
    } catch {
      throw new ConfigError(`Invalid --private-rooms: "${privateRooms}" is not a regular expression`);
    }
    const secret = env.EDDY_JWT_SECRET || undefined;
    const jwk = env.EDDY_JWT_PUBLIC_KEY || undefined;
    if (secret === undefined && jwk === undefined) {
      throw new ConfigError(
        "Invalid --private-rooms: set EDDY_JWT_SECRET (HS256) or EDDY_JWT_PUBLIC_KEY (ES256, a JWK)",
      );
    }
    let publicKey: JsonWebKey | undefined;
    if (jwk !== undefined) {
      try {
        publicKey = JSON.parse(jwk) as JsonWebKey;
      } catch {
        throw new ConfigError("Invalid EDDY_JWT_PUBLIC_KEY: it must be a JSON Web Key (JSON)");
      }
    }
    config.privateRooms = {
      pattern,
      ...(secret === undefined ? {} : { secret }),
      ...(publicKey === undefined ? {} : { publicKey }),
    };
  }
  // Each origin is checked by the chat app (an invalid one stops the start with exit 2).
  const cors = pick("cors-origin");
  if (cors !== undefined) config.corsOrigins = cors.split(",").map((origin) => origin.trim());
  const secret = env.EDDY_SESSION_SECRET;
  if (secret !== undefined && secret !== "") {
    if (secret.length < 32) throw new ConfigError("Invalid EDDY_SESSION_SECRET: it must be at least 32 characters");
    config.sessionSecret = secret;
  }
  const redis = pick("redis");
  if (redis !== undefined) {
    if (!URL.canParse(redis) || !/^rediss?:$/.test(new URL(redis).protocol)) {
      throw new ConfigError(`Invalid --redis: "${redacted(redis)}" is not a redis:// or rediss:// URL`);
    }
    const prefix = pick("redis-prefix") ?? "eddy";
    if (!/^[^\s{}]+$/.test(prefix)) {
      throw new ConfigError(`Invalid --redis-prefix: "${prefix}" must not be empty or hold braces or white space`);
    }
    const lease = pick("redis-reply-lease");
    config.redis =
      lease === undefined
        ? { url: redis, prefix }
        : { url: redis, prefix, replyLeaseMs: integer("redis-reply-lease", lease, 1, Number.MAX_SAFE_INTEGER) };
  }
  return config;
}

function parseFlags(argv: readonly string[]): Record<string, string | boolean | undefined> {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const option of OPTIONS) {
    options[option.flag] =
      option.short === undefined ? { type: option.type } : { type: option.type, short: option.short };
  }
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // parseArgs' messages already name the flag ("Unknown option '--prot'..."); keep them.
    throw new ConfigError(`Invalid command line: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function onOff(flag: string, text: string): boolean {
  if (text === "on" || text === "off") return text === "on";
  throw new ConfigError(`Invalid --${flag}: "${text}" is not on or off`);
}

/** A finite decimal such as `0.5` or `10`; above 0 when `positive`, else at least 0. */
function decimal(flag: string, text: string, positive: boolean): number {
  const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isFinite(value) || (positive && value === 0)) {
    throw new ConfigError(`Invalid --${flag}: "${text}" is not a ${positive ? "positive" : "non-negative"} number`);
  }
  return value;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`;
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
    return {
      exitCode: error.exitCode,
      stream: "stderr",
      text: `eddy: ${error.message}\nRun with --help to see the options.\n`,
    };
  }
}

/**
 * A Redis URL fit for a log line: any password replaced by `***`.
 *
 * @param url The URL as given.
 * @returns It without its secret.
 *
 * @example
 * ```ts
 * import { redacted } from "./_config.ts";
 * console.log(redacted("redis://app:s3cret@cache:6379/0")); // redis://app:***@cache:6379/0
 * ```
 */
export function redacted(url: string): string {
  return url.replace(/^(rediss?:\/\/[^:@/]*:)[^@/]*@/i, "$1***@");
}
