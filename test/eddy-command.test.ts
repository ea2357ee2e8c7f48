/**
 * The client and the `eddy` command against the real chat server (`eddy serve`, on Redis so that
 * a restarted server still has the room): `connect()` and `eddy tail` both see every message
 * exactly once across a server restart, resuming with `Last-Event-ID`; `tail`'s output formats,
 * its state lines on stderr, its usage errors and its clean stop on SIGINT.
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import process from "node:process";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { CHAT_EVENTS, type ChatMessage } from "../core/chat/mod.ts";
import { connect, type ServerSentEvent } from "../core/mod.ts";
import { haveRedis, type RedisServer, removeRedis, startRedis } from "./_redis.ts";
import { freePort, ROOT, type Runtime, type RunningServer, startServer, waitFor } from "./_server.ts";

/** `eddy serve`, from this checkout (what `npx eddy serve` runs from the package). */
const EDDY_SERVE: Runtime = {
  name: "eddy serve",
  command: process.execPath,
  args: ["--import", "tsx", "cli/eddy.ts", "serve"],
  entry: "cli/eddy.ts",
};

let redis: RedisServer | undefined;
beforeAll(async () => {
  if (haveRedis()) redis = await startRedis();
}, 30_000);
afterAll(() => removeRedis(redis));

async function post(url: string, room: string, text: string): Promise<string> {
  const response = await fetch(`${url}/rooms/${room}/messages`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user: "ann", text }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { id: string }).id;
}

/** A server on a fixed port (so a restart comes back at the same URL) with the shared Redis. */
function serveOn(port: number, prefix: string): Promise<RunningServer> {
  return startServer(EDDY_SERVE, [
    "--port",
    String(port),
    "--redis",
    redis!.url,
    "--redis-prefix",
    prefix,
    "--rate-limit",
    "off",
  ]);
}

describe.skipIf(!haveRedis())("the client against the chat server", () => {
  test("connect() resumes across a server restart with Last-Event-ID and sees every message once", async () => {
    const port = await freePort();
    let server = await serveOn(port, "connect-e2e");
    const sent = [await post(server.url, "r", "one"), await post(server.url, "r", "두")];
    const requests: (string | null)[] = [];
    const events = connect(`${server.url}/rooms/r/events`, {
      backoff: { initialDelay: 50, maxDelay: 200 },
      reconnectionTime: 100,
      fetch: (request) => {
        requests.push(request.headers.get("last-event-id"));
        return fetch(request);
      },
    });
    const messages: ChatMessage[] = [];
    const reading = (async () => {
      for await (const event of events) {
        const typed = CHAT_EVENTS.decode(event);
        if (typed?.type === "message") messages.push(typed.data);
      }
    })();
    try {
      await waitFor(() => messages.length === 2, { what: "the first two messages" });
      await server.stop();
      server = await serveOn(port, "connect-e2e");
      sent.push(await post(server.url, "r", "three"), await post(server.url, "r", "넷"));
      await waitFor(() => messages.length >= 4, { timeoutMs: 20_000, what: "the messages after the restart" });
      expect(messages.map((message) => message.id)).toEqual(sent);
      expect(messages.map((message) => message.text)).toEqual(["one", "두", "three", "넷"]);
      // The first request had no cursor; every later one resumed from the last message seen then.
      expect(requests[0]).toBeNull();
      expect(requests.slice(1)).toContain(sent[1]);
      expect(events.lastEventId).toBe(sent[3]);
    } finally {
      events.close();
      await reading;
      await server.stop();
    }
    expect(events.readyState).toBe("closed");
  }, 60_000);

  test("eddy tail prints each event on one line, shows its state, and survives a restart", async () => {
    const port = await freePort();
    let server = await serveOn(port, "tail-e2e");
    const first = await post(server.url, "t", "hello\nworld");
    const tail = spawn(
      process.execPath,
      ["--import", "tsx", "cli/eddy.ts", "tail", "--json", "--idle-timeout", "0", `${server.url}/rooms/t/events`],
      { cwd: ROOT, stdio: "pipe" },
    );
    let stdout = "";
    let stderr = "";
    tail.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    tail.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => tail.once("exit", resolve));
    const lines = () =>
      stdout
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as ServerSentEvent);
    const messageIds = () =>
      lines()
        .filter((event) => event.type === "message")
        .map((event) => event.lastEventId);
    try {
      await waitFor(() => messageIds().length === 1, { what: "tail's first message line" });
      const [event] = lines();
      expect(event).toEqual({ type: "message", data: expect.any(String), lastEventId: first });
      expect(JSON.parse(event!.data)).toMatchObject({ text: "hello\nworld" });
      expect(stderr).toContain(`eddy tail: connected to ${server.url}/rooms/t/events (200)`);
      await server.stop();
      await waitFor(() => /eddy tail: reconnecting in \d+ ms \(attempt 1, (end|network)\)/.test(stderr), {
        what: "tail's reconnecting line",
      });
      server = await serveOn(port, "tail-e2e");
      const second = await post(server.url, "t", "again");
      await waitFor(() => messageIds().length >= 2, { timeoutMs: 20_000, what: "the message after the restart" });
      expect(messageIds()).toEqual([first, second]);
    } finally {
      tail.kill("SIGINT");
      await server.stop();
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/eddy tail: stopped\n$/);
  }, 60_000);
});

/** Runs `eddy <args>` from this checkout to its exit (killed after 20 s, so a hung one fails the test). */
async function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "cli/eddy.ts", ...args], {
    cwd: ROOT,
    stdio: "pipe",
    timeout: 20_000,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout, stderr };
}

describe("eddy tail's command line", () => {
  test("usage errors exit 2 and say what is wrong; --help exits 0", async () => {
    const [noUrl, badUrl, badHeader, unknown, help] = await Promise.all([
      run(["tail"]),
      run(["tail", "ftp://x/"]),
      run(["tail", "-H", "no colon", "http://127.0.0.1:1/"]),
      run(["fly"]),
      run(["tail", "--help"]),
    ]);
    expect(noUrl).toMatchObject({ code: 2, stderr: expect.stringContaining("expected one URL, received 0 arguments") });
    expect(badUrl).toMatchObject({ code: 2, stderr: expect.stringContaining('"ftp://x/" is not an http(s) URL') });
    expect(badHeader).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--header "no colon" is not "Name: value"'),
    });
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('eddy: unknown command "fly"') });
    expect(help).toMatchObject({ code: 0, stdout: expect.stringContaining("Usage: eddy tail <url> [options]") });
  }, 30_000);

  test("an answer that is not an event stream fails the tail with exit 1", async () => {
    const port = await freePort();
    const server = await startServer(EDDY_SERVE, ["--port", String(port)]);
    try {
      const result = await run(["tail", `${server.url}/rooms`]); // JSON, not text/event-stream
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/eddy tail: failed: .*application\/json/);
    } finally {
      await server.stop();
    }
  }, 30_000);
});

/**
 * `tail`'s options against a local server whose stream describes the request it got. On each
 * path, the first request is answered with `retry: 0`, a comment, a `request` event (id
 * `seen-1`) whose data lines are the method, two headers, Last-Event-ID and the body, and a plain
 * event; then the body ends. The reconnect after it is answered 204, which ends the tail (exit 0),
 * so each run's whole output can be checked.
 */
describe("eddy tail's options", () => {
  type Seen = { method: string; headers: IncomingHttpHeaders; body: string };
  const seen = new Map<string, Seen[]>();
  let server: Server;
  let base: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = "";
      request.setEncoding("utf8");
      request.on("data", (chunk: string) => (body += chunk));
      request.on("end", () => {
        const path = request.url ?? "/";
        const requests = seen.get(path) ?? [];
        seen.set(path, requests);
        requests.push({ method: request.method ?? "", headers: request.headers, body });
        if (requests.length > 1) {
          response.writeHead(204);
          response.end();
          return;
        }
        const header = (name: string) => String(request.headers[name] ?? "");
        response.writeHead(200, { "content-type": "text/event-stream" });
        response.end(
          "retry: 0\n: heartbeat 1\n\nevent: request\nid: seen-1\n" +
            `data: method ${request.method}\n` +
            `data: x-probe ${header("x-probe")}\n` +
            `data: authorization ${header("authorization")}\n` +
            `data: last-event-id ${header("last-event-id")}\n` +
            `data: body ${body}\n\n` +
            "data: second\n\n",
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** `eddy tail <args> <base><path>`, expected to end on the second request's 204. */
  async function tail(path: string, args: string[]) {
    const result = await run(["tail", ...args, `${base}${path}`]);
    expect(result.stderr).toMatch(/eddy tail: the server ended the stream \(204\)\n$/);
    expect(result.code).toBe(0);
    expect(seen.get(path)).toHaveLength(2);
    return { ...result, requests: seen.get(path)! };
  }

  test("tail prints <type> <data> per event, line breaks as \\n, and no comments by default", async () => {
    const { stdout, stderr, requests } = await tail("/plain", []);
    expect(stdout).toBe("request method GET\\nx-probe \\nauthorization \\nlast-event-id \\nbody \nmessage second\n");
    expect(stderr).toContain(`eddy tail: connected to ${base}/plain (200)`);
    expect(stderr).toMatch(/eddy tail: reconnecting in \d+ ms \(attempt 1, end\)/);
    // The reconnect resumes from the last id seen.
    expect(requests.map((request) => request.headers["last-event-id"])).toEqual([undefined, "seen-1"]);
  }, 30_000);

  test("tail --last-event-id sends it on the first request", async () => {
    const { stdout, requests } = await tail("/resume", ["--last-event-id", "41"]);
    expect(stdout.split("\n")[0]).toBe("request method GET\\nx-probe \\nauthorization \\nlast-event-id 41\\nbody ");
    expect(requests.map((request) => request.headers["last-event-id"])).toEqual(["41", "seen-1"]);
  }, 30_000);

  test("tail -H and --header add request headers, on every request", async () => {
    const { stdout, requests } = await tail("/headers", [
      "-H",
      "X-Probe: one",
      "--header",
      "x-probe:two",
      "--header",
      "Authorization: Bearer tok en",
    ]);
    expect(stdout.split("\n")[0]).toBe(
      "request method GET\\nx-probe one, two\\nauthorization Bearer tok en\\nlast-event-id \\nbody ",
    );
    for (const request of requests) {
      expect(request.headers).toMatchObject({ "x-probe": "one, two", authorization: "Bearer tok en" });
    }
  }, 30_000);

  test("tail -d posts the body, and -X sets the method; the reconnect sends both again", async () => {
    const [posted, put] = await Promise.all([
      tail("/post", ["-d", '{"q":"안녕"}']),
      tail("/put", ["--data", "line", "-X", "PUT"]),
    ]);
    expect(posted.stdout.split("\n")[0]).toBe(
      'request method POST\\nx-probe \\nauthorization \\nlast-event-id \\nbody {"q":"안녕"}',
    );
    expect(posted.requests.map(({ method, body }) => [method, body])).toEqual([
      ["POST", '{"q":"안녕"}'],
      ["POST", '{"q":"안녕"}'],
    ]);
    expect(put.stdout.split("\n")[0]).toBe(
      "request method PUT\\nx-probe \\nauthorization \\nlast-event-id \\nbody line",
    );
    expect(put.requests.map(({ method, body }) => [method, body])).toEqual([
      ["PUT", "line"],
      ["PUT", "line"],
    ]);
  }, 30_000);

  test("tail --comments prints comments as ': <text>', or as {comment} with --json", async () => {
    const [plain, json] = await Promise.all([
      tail("/comments", ["--comments"]),
      tail("/comments-json", ["--comments", "--json"]),
    ]);
    expect(plain.stdout.split("\n").slice(0, 2)).toEqual([
      ": heartbeat 1",
      "request method GET\\nx-probe \\nauthorization \\nlast-event-id \\nbody ",
    ]);
    const lines = json.stdout
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as unknown);
    expect(lines).toEqual([
      { comment: "heartbeat 1" },
      {
        type: "request",
        data: "method GET\nx-probe \nauthorization \nlast-event-id \nbody ",
        lastEventId: "seen-1",
      },
      { type: "message", data: "second", lastEventId: "seen-1" },
    ]);
  }, 30_000);
});
