/**
 * Private: `eddy tail <url>`, a terminal's view of a live event stream: each event on one line on
 * stdout, the connection's state on stderr, reconnecting with `Last-Event-ID` by the core's
 * {@link connect} (backoff on, and a watchdog for a connection that went silent).
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { connect, type ServerSentEvent } from "../core/mod.ts";

const HELP = `Usage: eddy tail <url> [options]

Prints a Server-Sent Events stream, one event per line:  <type> <data>  (line breaks in data
shown as \\n), or one JSON object per line with --json. The connection's state goes to stderr.
It reconnects with Last-Event-ID (exponential backoff with jitter) until the server answers 204,
an answer that is not an event stream, or Ctrl-C.

Options:
  --json                  one JSON object per line: {"type","data","lastEventId"} (comments: {"comment"})
  --last-event-id ID      resume after ID (sent as Last-Event-ID)
  -H, --header 'N: V'     an extra request header (repeatable), e.g. -H 'authorization: Bearer ...'
  -d, --data BODY         send BODY (POST unless --method says otherwise)
  -X, --method METHOD     the request method (default GET, or POST with --data)
  --comments              also print comments (heartbeats) as  : <text>
  --idle-timeout MS       reopen when no byte arrived for MS ms (default 45000; 0: off)
  --max-retries N         give up after N failed attempts in a row (default: never)
  -q, --quiet             no state lines on stderr
  -h, --help              this text

Examples:
  eddy tail http://127.0.0.1:8080/rooms/lobby/events
  eddy tail --json http://127.0.0.1:8080/rooms/lobby/events | jq -r '.data | fromjson | .text'
`;

/** Where the command writes, and what stops it (the process's, unless a test passes its own). */
export type TailIO = {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Aborted on Ctrl-C by default. */
  readonly signal?: AbortSignal;
  /** The `fetch` to use (default: the global one). */
  readonly fetch?: (request: Request) => Promise<Response>;
};

/**
 * Runs `eddy tail` with `args` (those after `tail`).
 *
 * @param args The command line after `tail`.
 * @param io Output and cancellation; defaults to the process's.
 * @returns The exit code: 0 when stopped (204, Ctrl-C), 1 when the stream failed, 2 on a usage error.
 *
 * @example
 * ```ts no-run
 * import { runTail } from "./_tail.ts";
 * process.exitCode = await runTail(["http://127.0.0.1:8080/rooms/lobby/events", "--json"]);
 * ```
 */
export async function runTail(args: readonly string[], io: TailIO = processIO()): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    io.stderr(
      `eddy tail: ${error instanceof Error ? error.message : String(error)}\nRun eddy tail --help for the options.\n`,
    );
    return 2;
  }
  if ("help" in parsed) {
    io.stdout(HELP);
    return 0;
  }
  const { url, json, comments, quiet, headers, data, method, lastEventId, idleTimeout, maxRetries } = parsed;
  const state = (text: string) => {
    if (!quiet) io.stderr(`eddy tail: ${text}\n`);
  };
  const print = json ? (event: ServerSentEvent) => JSON.stringify(event) : plain;
  const events = connect(url, {
    headers,
    method,
    body: data,
    lastEventId,
    signal: io.signal,
    fetch: io.fetch,
    idleTimeout: idleTimeout === 0 ? undefined : idleTimeout,
    backoff: { maxRetries },
    onOpen: (response) => state(`connected to ${url} (${response.status})`),
    onRetry: ({ delay, attempt, reason }) => state(`reconnecting in ${delay} ms (attempt ${attempt}, ${reason})`),
    onError: (error) => state(`error: ${error instanceof Error ? error.message : String(error)}`),
    onComment: comments
      ? (text) => io.stdout(json ? `${JSON.stringify({ comment: text })}\n` : `: ${text}\n`)
      : undefined,
  });
  try {
    for await (const event of events) io.stdout(`${print(event)}\n`);
    state(io.signal?.aborted === true ? "stopped" : "the server ended the stream (204)");
    return 0;
  } catch (error) {
    if (io.signal?.aborted === true) {
      state("stopped");
      return 0;
    }
    state(`failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** `<type> <data>`, the data's line breaks shown as `\n` so that one event stays one line (--json is exact). */
function plain(event: ServerSentEvent): string {
  return `${event.type} ${event.data.replaceAll("\n", "\\n")}`;
}

function parse(args: readonly string[]) {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      json: { type: "boolean", default: false },
      "last-event-id": { type: "string" },
      header: { type: "string", short: "H", multiple: true, default: [] },
      data: { type: "string", short: "d" },
      method: { type: "string", short: "X" },
      comments: { type: "boolean", default: false },
      "idle-timeout": { type: "string", default: "45000" },
      "max-retries": { type: "string" },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) return { help: true } as const;
  if (positionals.length !== 1) throw new Error(`expected one URL, received ${positionals.length} arguments`);
  let url: URL;
  try {
    url = new URL(positionals[0]!);
  } catch {
    throw new Error(`"${positionals[0]}" is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`"${url}" is not an http(s) URL`);
  const headers = new Headers();
  for (const header of values.header) {
    const colon = header.indexOf(":");
    if (colon <= 0) throw new Error(`--header "${header}" is not "Name: value"`);
    try {
      headers.append(header.slice(0, colon).trim(), header.slice(colon + 1).trim());
    } catch {
      throw new Error(`--header "${header}" is not a valid header`);
    }
  }
  const idleTimeout = wholeNumber("idle-timeout", values["idle-timeout"]);
  const maxRetries = values["max-retries"] === undefined ? Infinity : wholeNumber("max-retries", values["max-retries"]);
  const method = values.method ?? (values.data === undefined ? "GET" : "POST");
  return {
    url,
    json: values.json,
    comments: values.comments,
    quiet: values.quiet,
    headers,
    data: values.data,
    method,
    lastEventId: values["last-event-id"],
    idleTimeout,
    maxRetries,
  };
}

function wholeNumber(flag: string, text: string): number {
  if (!/^\d{1,15}$/.test(text)) throw new Error(`--${flag} must be a whole number, received "${text}"`);
  return Number(text);
}

function processIO(): TailIO {
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    signal: stop.signal,
  };
}
