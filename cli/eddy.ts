/**
 * The `eddy` command (the package's `bin`, built to `dist/eddy.js` for Node):
 *
 * - `eddy serve [options]`: the chat server, the same program and flags as `npm start`
 *   (`eddy serve --help` lists them);
 * - `eddy tail <url> [options]`: a live event stream, one event per line, reconnecting with
 *   `Last-Event-ID` (`eddy tail --help`).
 *
 * Each command is loaded only when it runs, so `tail` does not load the server.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";

const USAGE = `Usage: eddy <command> [options]

Commands:
  serve [options]        start the chat server (eddy serve --help for its options)
  tail <url> [options]   print a live Server-Sent Events stream, one event per line (eddy tail --help)

  eddy --version         the package version
`;

const [command, ...args] = process.argv.slice(2);
switch (command) {
  case "serve": {
    const [{ serve }, { runChatServer }] = await Promise.all([import("../adapters/node.ts"), import("./_main.ts")]);
    await runChatServer(serve, args);
    break;
  }
  case "tail": {
    const { runTail } = await import("./_tail.ts");
    process.exitCode = await runTail(args);
    break;
  }
  case "--version":
  case "-v":
    process.stdout.write(`${version()}\n`);
    break;
  case "--help":
  case "-h":
  case "help":
    process.stdout.write(USAGE);
    break;
  default:
    process.stderr.write(command === undefined ? USAGE : `eddy: unknown command "${command}"\n\n${USAGE}`);
    process.exitCode = 2;
}

/** The version of the package this file belongs to: the nearest package.json named eddy-sse. */
function version(): string {
  for (let dir = new URL("./", import.meta.url); dir.pathname !== "/"; dir = new URL("../", dir)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", dir), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "eddy-sse" && pkg.version !== undefined) return pkg.version;
    } catch {
      // not here: keep walking up
    }
  }
  return "unknown";
}
