/**
 * openAIResponder against a local `node:http` server on 127.0.0.1:0 that speaks the exact OpenAI
 * chat-completions streaming wire format. Checks the request it sends (path, auth, model,
 * stream: true, context messages), the chunks it yields, and its failures: non-2xx, malformed
 * JSON, a wrong content type, a stream cut before [DONE], a stalled upstream (timeout), and the
 * caller's abort — each releasing the upstream connection.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "vitest";
import {
  createChatApp,
  OpenAIError,
  openAIResponder,
  type ChatMessage,
  type ResponderRequest,
} from "../core/chat/mod.ts";
import { dataOf, messagesOf, send, until, watch } from "./_chat.ts";

type Seen = { method: string; url: string; headers: IncomingMessage["headers"]; body: unknown; closed: boolean };
type Handler = (request: IncomingMessage, response: ServerResponse, seen: Seen) => void;

let server: Server;
let baseUrl: string;
let handler: Handler;
const seen: Seen[] = [];
const closeListeners = new Set<() => void>();

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1700000000, model: "test-model", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const ROLE =
  'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n';
const DONE = "data: [DONE]\n\n";

/** The usual streamed answer: role chunk, content deltas, a stop chunk, [DONE]. */
function streamAnswer(parts: string[]): Handler {
  return (_request, response) => {
    response.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
    response.write(ROLE);
    for (const part of parts) response.write(chunk({ content: part }));
    response.write(chunk({}, "stop"));
    response.end(DONE);
  };
}

beforeAll(async () => {
  server = createServer((request, response) => {
    const record: Seen = {
      method: request.method ?? "",
      url: request.url ?? "",
      headers: request.headers,
      body: undefined,
      closed: false,
    };
    seen.push(record);
    // The upstream connection is released when the client closes it (or it finishes).
    response.on("close", () => {
      record.closed = true;
      for (const listener of [...closeListeners]) listener();
    });
    const parts: Buffer[] = [];
    request.on("data", (part: Buffer) => parts.push(part));
    request.on("end", () => {
      record.body = JSON.parse(Buffer.concat(parts).toString("utf8"));
      handler(request, response, record);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  seen.length = 0;
});

const at = "2025-01-01T00:00:00.000Z";
const history: ChatMessage[] = [
  { id: "e-1", room: "lobby", user: "alice", text: "hi all", time: at },
  { id: "e-2", room: "lobby", user: "bot", text: "Hello alice!", time: at, replyId: "r1" },
  {
    id: "e-3",
    room: "lobby",
    user: "bot",
    text: "[Sorry, something went wrong while answering.]",
    time: at,
    replyId: "r2",
    error: true,
  },
  { id: "e-4", room: "lobby", user: "bob", text: "/bot what is SSE?", time: at },
];

function ask(extra: Partial<ResponderRequest> = {}): ResponderRequest {
  return {
    room: "lobby",
    text: "/bot what is SSE?",
    history,
    signal: new AbortController().signal,
    stats: { messages: 4, subscribers: 2 },
    ...extra,
  };
}

async function chunksOf(iterable: AsyncIterable<string>): Promise<string[]> {
  const chunks: string[] = [];
  for await (const part of iterable) chunks.push(part);
  return chunks;
}

/** Resolves once the server saw its request's connection close. */
function upstreamClosed(index = 0): Promise<void> {
  return until(
    () => seen[index]?.closed === true,
    "the upstream connection to close",
    (poke) => {
      closeListeners.add(poke);
      return () => void closeListeners.delete(poke);
    },
  );
}

describe("openAIResponder", () => {
  test("yields the content deltas of an OpenAI stream and stops at [DONE]", async () => {
    handler = streamAnswer(["Server-", "Sent ", "Events", " stream text."]);
    const bot = openAIResponder({ baseUrl, model: "test-model" });
    expect(await chunksOf(bot(ask()))).toEqual(["Server-", "Sent ", "Events", " stream text."]);
  });

  test("posts model, stream: true and the room's recent messages as context, with the bearer key", async () => {
    handler = streamAnswer(["ok"]);
    const bot = openAIResponder({
      baseUrl: `${baseUrl}/`,
      model: "test-model",
      apiKey: "sk-test",
      systemPrompt: "Be brief.",
    });
    await chunksOf(bot(ask()));
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request).toMatchObject({ method: "POST", url: "/v1/chat/completions" });
    expect(request!.headers["authorization"]).toBe("Bearer sk-test");
    expect(request!.headers["content-type"]).toBe("application/json");
    expect(request!.headers["accept"]).toBe("text/event-stream");
    expect(request!.body).toEqual({
      model: "test-model",
      stream: true,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "alice: hi all" },
        { role: "assistant", content: "Hello alice!" },
        // the failed reply (error: true) is not context
        { role: "user", content: "bob: /bot what is SSE?" },
      ],
    });
  });

  test("without a key sends no Authorization; the default system prompt names the room", async () => {
    handler = streamAnswer(["ok"]);
    await chunksOf(openAIResponder({ baseUrl, model: "m" })(ask({ history: [] })));
    expect(seen[0]!.headers["authorization"]).toBeUndefined();
    const body = seen[0]!.body as { messages: Array<{ role: string; content: string }> };
    expect(body.messages[0]?.role).toBe("system");
    expect(body.messages[0]?.content).toContain('"lobby"');
    expect(body.messages.slice(1)).toEqual([{ role: "user", content: "/bot what is SSE?" }]);
    expect(body.messages[0]?.content).toContain("in the language it is written in.");
  });

  test("the default system prompt passes on the language the asker's browser prefers", async () => {
    handler = streamAnswer(["네"]);
    await chunksOf(openAIResponder({ baseUrl, model: "m" })(ask({ history: [], language: "ko-KR" })));
    const body = seen[0]!.body as { messages: Array<{ role: string; content: string }> };
    expect(body.messages[0]?.content).toContain(
      "in the language it is written in (its writer's browser prefers ko-KR).",
    );
  });

  test("parses the wire format across arbitrary chunk boundaries, CRLF line ends and comments", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      const wire = (
        ": keep-alive\r\n\r\n" +
        ROLE +
        chunk({ content: "é😀 multi" }) +
        chunk({ content: "byte" }) +
        chunk({}, "stop") +
        DONE
      ).replace(/\n/g, "\r\n");
      const bytes = Buffer.from(wire, "utf8");
      // One byte at a time through the UTF-8 sequences, then the rest.
      for (let i = 0; i < 200; i++) response.write(bytes.subarray(i, i + 1));
      response.end(bytes.subarray(200));
    };
    expect((await chunksOf(openAIResponder({ baseUrl, model: "m" })(ask()))).join("")).toBe("é😀 multibyte");
  });

  test("a non-2xx answer fails with the status and a quote of the body", async () => {
    handler = (_request, response) => {
      response.writeHead(500, { "content-type": "application/json" });
      response.end('{"error":{"message":"model overloaded"}}');
    };
    const failure = await chunksOf(openAIResponder({ baseUrl, model: "m" })(ask())).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAIError);
    expect(failure).toMatchObject({ type: "status", status: 500 });
    expect((failure as Error).message).toBe(
      'The OpenAI-compatible server answered 500: {"error":{"message":"model overloaded"}}',
    );
  });

  test("a chunk that is not JSON fails clearly and releases the connection", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(ROLE + chunk({ content: "fine " }) + "data: {not json\n\n");
      // Keep the response open: the client must close it.
    };
    const yielded: string[] = [];
    const failure = await (async () => {
      for await (const part of openAIResponder({ baseUrl, model: "m" })(ask())) yielded.push(part);
    })().catch((error: unknown) => error);
    expect(yielded).toEqual(["fine "]);
    expect(failure).toMatchObject({ name: "OpenAIError", type: "protocol" });
    expect((failure as Error).message).toContain("not JSON");
    await upstreamClosed();
  });

  test("an error object inside the stream, a wrong content type, or an end before [DONE] fail", async () => {
    const cases: Array<[Handler, RegExp]> = [
      [
        (_request, response) => {
          response.writeHead(200, { "content-type": "text/event-stream" });
          response.end('data: {"error":{"message":"rate limited"}}\n\n');
        },
        /reported an error: rate limited/,
      ],
      [
        (_request, response) => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end('{"choices":[{"message":{"content":"not streamed"}}]}');
        },
        /instead of text\/event-stream/,
      ],
      [
        (_request, response) => {
          response.writeHead(200, { "content-type": "text/event-stream" });
          response.end(ROLE + chunk({ content: "cut" }));
        },
        /ended before \[DONE\]/,
      ],
    ];
    for (const [serve, message] of cases) {
      handler = serve;
      await expect(chunksOf(openAIResponder({ baseUrl, model: "m" })(ask()))).rejects.toThrow(message);
    }
    // Some compatible servers omit [DONE] after a finish_reason: that is a complete answer.
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.end(ROLE + chunk({ content: "whole" }) + chunk({}, "stop"));
    };
    expect(await chunksOf(openAIResponder({ baseUrl, model: "m" })(ask()))).toEqual(["whole"]);
  });

  test("a stalled upstream fails with a timeout after timeoutMs and the connection is closed", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(ROLE + chunk({ content: "and then... " }));
      // ...nothing more, ever.
    };
    const yielded: string[] = [];
    const failure = await (async () => {
      for await (const part of openAIResponder({ baseUrl, model: "m", timeoutMs: 200 })(ask())) yielded.push(part);
    })().catch((error: unknown) => error);
    expect(yielded).toEqual(["and then... "]);
    expect(failure).toMatchObject({ type: "timeout", message: "The OpenAI-compatible request timed out after 200 ms" });
    await upstreamClosed();
  });

  test("a server that never answers times out too", async () => {
    handler = () => {}; // no headers
    await expect(chunksOf(openAIResponder({ baseUrl, model: "m", timeoutMs: 150 })(ask()))).rejects.toMatchObject({
      type: "timeout",
    });
    await upstreamClosed();
  });

  test("the caller's abort stops the request and releases the connection", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(ROLE + chunk({ content: "first " }));
    };
    const controller = new AbortController();
    const iterator = openAIResponder({ baseUrl, model: "m" })(ask({ signal: controller.signal }))[
      Symbol.asyncIterator
    ]();
    expect(await iterator.next()).toEqual({ done: false, value: "first " });
    const pending = iterator.next();
    controller.abort(new Error("reply stopped"));
    await expect(pending).rejects.toThrow("reply stopped");
    await upstreamClosed();
  });

  test("a consumer that stops early (the reply was cut) releases the connection", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" });
      response.write(ROLE + chunk({ content: "one " }) + chunk({ content: "two " }));
      // ...and the rest would follow much later.
    };
    for await (const part of openAIResponder({ baseUrl, model: "m" })(ask())) {
      expect(part).toBe("one ");
      break;
    }
    await upstreamClosed();
  });

  test("refuses a bad baseUrl, model or timeout", () => {
    expect(() => openAIResponder({ baseUrl: "not a url", model: "m" })).toThrow(TypeError);
    expect(() => openAIResponder({ baseUrl: "ftp://example.com", model: "m" })).toThrow("http or https");
    expect(() => openAIResponder({ baseUrl, model: "" })).toThrow('"model"');
    expect(() => openAIResponder({ baseUrl, model: "m", timeoutMs: 0 })).toThrow(RangeError);
  });

  test("uses the fetch it is given", async () => {
    handler = streamAnswer(["via custom fetch"]);
    const calls: string[] = [];
    const custom: typeof fetch = (input, init) => {
      // Called with one POST Request (connect() builds it), never again for the same reply.
      calls.push(input instanceof Request ? `${input.method} ${input.url}` : String(input));
      return fetch(input, init);
    };
    expect(await chunksOf(openAIResponder({ baseUrl, model: "m", fetch: custom })(ask()))).toEqual([
      "via custom fetch",
    ]);
    expect(calls).toEqual([`POST ${baseUrl}/v1/chat/completions`]);
  });

  test("drives the chat app's bot: deltas stream to the room and the answer is stored", async () => {
    handler = streamAnswer(["Events ", "flow ", "one way."]);
    // replyDeltaMs 0: each upstream chunk its own reply-delta, so the chunks can be compared one by one.
    const app = createChatApp({ responder: openAIResponder({ baseUrl, model: "test-model" }), replyDeltaMs: 0 });
    try {
      const watcher = await watch(app, "/rooms/lobby/events");
      await send(app, "lobby", "hello", "carol");
      await send(app, "lobby", "@bot what is SSE?", "carol");
      await watcher.waitFor((events) => messagesOf(events).some((m) => m.user === "bot"));
      expect(dataOf(watcher.events, "reply-delta").map((d) => d.delta)).toEqual(["Events ", "flow ", "one way."]);
      expect(messagesOf(watcher.events).at(-1)).toMatchObject({ user: "bot", text: "Events flow one way." });
      expect((seen[0]!.body as { messages: unknown[] }).messages.slice(1)).toEqual([
        { role: "user", content: "carol: hello" },
        { role: "user", content: "carol: @bot what is SSE?" },
      ]);
      await watcher.cancel();
    } finally {
      await app.close();
    }
  });
});
