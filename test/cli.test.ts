/**
 * The chat server program (cli/): its command line and environment, and how it finds the page.
 * The life cycle (listen, signals, exit codes) is tested on every runtime in e2e.test.ts.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { findWebDir, readAssets } from "../cli/_assets.ts";
import { ConfigError, helpText, parseConfig, startupConfig } from "../cli/_config.ts";

describe("parseConfig", () => {
  it("parseConfig uses safe defaults", () => {
    expect(parseConfig([], {})).toEqual({ host: "127.0.0.1", port: 8080, bot: "typewriter", rateLimit: true });
  });

  it("parseConfig reads HOST, PORT and the EDDY_* variables", () => {
    const env = {
      HOST: "0.0.0.0",
      PORT: "3000",
      EDDY_HISTORY: "500",
      EDDY_REPLAY: "20",
      EDDY_HEARTBEAT_MS: "5000",
      EDDY_QUEUE: "64",
      EDDY_MAX_ROOMS: "100",
      EDDY_BOT: "off",
      EDDY_TYPEWRITER_MS: "0",
    };
    expect(parseConfig([], env)).toEqual({
      host: "0.0.0.0",
      port: 3000,
      historySize: 500,
      replayCount: 20,
      heartbeatMs: 5000,
      queueLimit: 64,
      maxRooms: 100,
      typewriterMs: 0,
      bot: "off",
      rateLimit: true,
    });
  });

  it("parseConfig lets flags beat the environment", () => {
    const env = { HOST: "0.0.0.0", PORT: "3000", EDDY_HISTORY: "500", EDDY_BOT: "off" };
    const argv = [
      "--host",
      "::1",
      "--port=0",
      "--history",
      "7",
      "--bot",
      "typewriter",
      "--replay",
      "3",
      "--heartbeat",
      "250",
      "--queue",
      "8",
      "--max-rooms",
      "9",
      "--typewriter-ms",
      "1",
    ];
    expect(parseConfig(argv, env)).toEqual({
      host: "::1",
      port: 0,
      historySize: 7,
      replayCount: 3,
      heartbeatMs: 250,
      queueLimit: 8,
      maxRooms: 9,
      typewriterMs: 1,
      bot: "typewriter",
      rateLimit: true,
    });
  });

  it("parseConfig treats an empty variable as unset", () => {
    expect(parseConfig([], { PORT: "", HOST: "", EDDY_BOT: "", EDDY_RATE_LIMIT: "" })).toEqual({
      host: "127.0.0.1",
      port: 8080,
      bot: "typewriter",
      rateLimit: true,
    });
  });

  it("parseConfig turns the rate limits off with EDDY_RATE_LIMIT=off, and lets --rate-limit beat it", () => {
    expect(parseConfig([], { EDDY_RATE_LIMIT: "off" })).toEqual({
      host: "127.0.0.1",
      port: 8080,
      bot: "typewriter",
      rateLimit: false,
    });
    expect(parseConfig([], { EDDY_RATE_LIMIT: "on" })).toMatchObject({ rateLimit: true });
    expect(parseConfig(["--rate-limit", "off"], {})).toMatchObject({ rateLimit: false });
    expect(parseConfig(["--rate-limit", "on"], { EDDY_RATE_LIMIT: "off" })).toMatchObject({ rateLimit: true });
    expect(() => parseConfig([], { EDDY_RATE_LIMIT: "no" })).toThrow(/Invalid --rate-limit: "no" is not on or off/);
  });

  it("parseConfig builds the OpenAI settings, with the key only from OPENAI_API_KEY", () => {
    const env = { OPENAI_BASE_URL: "http://127.0.0.1:1234/v1", OPENAI_MODEL: "env-model", OPENAI_API_KEY: "sk-test" };
    expect(parseConfig(["--bot", "openai", "--openai-model", "flag-model"], env)).toMatchObject({
      bot: "openai",
      openai: { baseUrl: "http://127.0.0.1:1234/v1", model: "flag-model", apiKey: "sk-test" },
    });
    expect(parseConfig([], { ...env, EDDY_BOT: "openai", OPENAI_API_KEY: undefined })).toMatchObject({
      openai: { baseUrl: "http://127.0.0.1:1234/v1", model: "env-model" },
    });
    expect(() => parseConfig(["--bot", "openai", "--openai-api-key", "x"], env)).toThrow(ConfigError);
  });

  it("parseConfig returns the help text for --help and -h", () => {
    expect(parseConfig(["--help"], {})).toEqual({ help: helpText() });
    expect(parseConfig(["-h", "--port", "nope"], {})).toEqual({ help: helpText() });
    const help = helpText();
    for (const flag of [
      "--host",
      "--port",
      "--history",
      "--replay",
      "--heartbeat",
      "--queue",
      "--max-rooms",
      "--bot",
      "--typewriter-ms",
      "--openai-base-url",
      "--openai-model",
      "--help",
    ]) {
      expect(help).toContain(flag);
    }
    for (const env of [
      "HOST",
      "PORT",
      "EDDY_HISTORY",
      "EDDY_REPLAY",
      "EDDY_HEARTBEAT_MS",
      "EDDY_QUEUE",
      "EDDY_MAX_ROOMS",
      "EDDY_BOT",
      "OPENAI_BASE_URL",
      "OPENAI_MODEL",
      "OPENAI_API_KEY",
    ]) {
      expect(help).toContain(env);
    }
    expect(help).toContain("default: 127.0.0.1");
    expect(help).toContain("default: 8080");
  });

  it.each([
    [["--port", "65536"], /Invalid --port: "65536" is not an integer from 0 to 65535/],
    [["--port", "-1"], /Invalid command line|Invalid --port/],
    [["--port", "80x"], /Invalid --port: "80x"/],
    [["--port", "1e3"], /Invalid --port: "1e3"/],
    [["--history", "0"], /Invalid --history: "0" is not an integer of at least 1/],
    [["--heartbeat", "fast"], /Invalid --heartbeat: "fast"/],
    [["--bot", "gpt"], /Invalid --bot: "gpt" is not one of typewriter, openai, off/],
    [["--rate-limit", "no"], /Invalid --rate-limit: "no" is not on or off/],
    [["--room-rate", "1/2"], /Invalid --room-rate: "1\/2" is not a positive number/],
    [["--room-rate", "0"], /Invalid --room-rate: "0" is not a positive number/],
    [["--prot", "80"], /Invalid command line: .*--prot/],
    [["--port"], /Invalid command line: .*--port/],
    [["extra"], /Invalid command line: .*extra/],
    [["--host", ""], /Invalid --host/],
    [["--bot", "openai"], /needs --openai-base-url .* and --openai-model/],
    [
      ["--bot", "openai", "--openai-model", "m", "--openai-base-url", "ftp://x"],
      /Invalid --openai-base-url: "ftp:\/\/x"/,
    ],
  ])("parseConfig refuses %j", (argv, message) => {
    expect(() => parseConfig(argv, {})).toThrow(message);
    expect(() => parseConfig(argv, {})).toThrow(ConfigError);
  });

  it("parseConfig refuses invalid environment values with the flag's name", () => {
    expect(() => parseConfig([], { PORT: "http" })).toThrow(/Invalid --port: "http"/);
    expect(() => parseConfig([], { EDDY_BOT: "openai" })).toThrow(/needs --openai-base-url/);
  });

  it("startupConfig turns --help into exit 0 and a bad value into exit 2", () => {
    expect(startupConfig(["--help"], {})).toEqual({ exitCode: 0, stream: "stdout", text: helpText() });
    expect(startupConfig(["--port", "99999"], {})).toEqual({
      exitCode: 2,
      stream: "stderr",
      text: 'eddy: Invalid --port: "99999" is not an integer from 0 to 65535\nRun with --help to see the options.\n',
    });
    expect(startupConfig(["--port", "0"], {})).toEqual({
      config: { host: "127.0.0.1", port: 0, bot: "typewriter", rateLimit: true },
    });
  });
});

describe("readAssets", () => {
  it("readAssets reads the page files with their media types and reports missing ones", () => {
    const { assets, missing } = readAssets();
    expect(missing).toEqual([]);
    const languages = readdirSync(new URL("../web/i18n/", import.meta.url)).filter((file) => file !== "languages.js");
    expect(languages).toEqual(expect.arrayContaining(["en.js", "ko.js"]));
    const expected: [string, string][] = [
      ["/", "text/html"],
      ["/chat.js", "text/javascript"],
      ["/chat.css", "text/css"],
      ["/i18n/languages.js", "text/javascript"],
      ...languages.map((file): [string, string] => [`/i18n/${file}`, "text/javascript"]),
    ];
    expect(Object.keys(assets).sort()).toEqual(expected.map(([path]) => path).sort());
    for (const [path, type] of expected) expect(assets[path]?.type, path).toBe(`${type}; charset=utf-8`);
    expect(assets["/i18n/ko.js"]?.body).toContain("입장");
    const none = readAssets(new URL("file:///nonexistent-eddy-dir/"));
    expect(none).toEqual({
      assets: {},
      missing: ["web/index.html", "web/chat.js", "web/chat.css", "web/i18n/languages.js"],
    });
  });

  it("readAssets serves a language file added to web/i18n/ with no other change, and only *.js files there", () => {
    const web = mkdtempSync(join(tmpdir(), "eddy-i18n-"));
    try {
      mkdirSync(join(web, "i18n"));
      for (const file of ["index.html", "chat.js", "chat.css", "i18n/languages.js", "i18n/fr.js", "i18n/notes.txt"]) {
        writeFileSync(join(web, file), `/* ${file} */`);
      }
      const { assets, missing } = readAssets(pathToFileURL(`${web}/`));
      expect(missing).toEqual([]);
      expect(Object.keys(assets)).toEqual(["/", "/chat.js", "/chat.css", "/i18n/languages.js", "/i18n/fr.js"]);
      expect(assets["/i18n/fr.js"]).toEqual({ body: "/* i18n/fr.js */", type: "text/javascript; charset=utf-8" });
    } finally {
      rmSync(web, { recursive: true, force: true });
    }
  });
});

describe("findWebDir", () => {
  it("findWebDir finds web/index.html however deep the module sits below the package root", () => {
    const root = mkdtempSync(join(tmpdir(), "eddy-web-"));
    try {
      mkdirSync(join(root, "web"));
      writeFileSync(join(root, "web", "index.html"), "<!doctype html>");
      for (const depth of [["cli"], ["dist"], ["dist", "cli", "deep"]]) {
        mkdirSync(join(root, ...depth), { recursive: true });
        const from = pathToFileURL(`${join(root, ...depth)}/`);
        expect(findWebDir(from).href, depth.join("/")).toBe(pathToFileURL(`${join(root, "web")}/`).href);
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("findWebDir finds this checkout's web/ by default", () => {
    expect(findWebDir().href).toBe(new URL("../web/", import.meta.url).href);
  });
});
