/**
 * A {@link Responder} backed by any OpenAI-compatible chat completions server (OpenAI, vLLM,
 * llama.cpp, Ollama, LM Studio...), streamed: `POST {baseUrl}/v1/chat/completions` with
 * `stream: true`, read with our own `parseEventStream`.
 *
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 * @module
 */
import { connect } from "../mod.ts";
import type { Responder, ResponderRequest } from "./bot.ts";

/**
 * Options of {@link openAIResponder}.
 *
 * @example
 * ```ts
 * import type { OpenAIResponderOptions } from "./openai.ts";
 * const options: OpenAIResponderOptions = { baseUrl: "http://127.0.0.1:11434", model: "llama3.2" };
 * ```
 */
export type OpenAIResponderOptions = {
  /** The server's origin (and path prefix, if any), without `/v1`: `https://api.openai.com`. */
  baseUrl: string;
  model: string;
  /** Sent as `Authorization: Bearer <apiKey>` when given. */
  apiKey?: string;
  /** The fetch to use, called with one `Request` per reply (by `connect`). Default the global `fetch`. */
  fetch?: typeof fetch;
  /** The longest the whole request may take, first byte to `[DONE]`, in ms. Default 60 000. */
  timeoutMs?: number;
  /** The system message. Default: a short prompt describing the chat room and its conventions. */
  systemPrompt?: string;
};

/**
 * Why an upstream request failed: the HTTP status (`status`), the wire format (`protocol`,
 * including a chunk that is not JSON), or the time limit (`timeout`).
 *
 * @example
 * ```ts
 * import { OpenAIError } from "./openai.ts";
 * const error = new OpenAIError("status", "upstream answered 500", 500);
 * if (error.type === "status") console.log(error.status);
 * ```
 */
export class OpenAIError extends Error {
  /** Discriminant for callers that branch on the failure kind. */
  readonly type: "status" | "protocol" | "timeout";
  /** The upstream HTTP status, for `type: "status"`. */
  readonly status: number | undefined;

  constructor(type: "status" | "protocol" | "timeout", message: string, status?: number) {
    super(message);
    this.name = "OpenAIError";
    this.type = type;
    this.status = status;
  }
}

type ChatCompletionMessage = { role: "system" | "user" | "assistant"; content: string };
type ChatCompletionChunk = {
  choices?: Array<{ delta?: { content?: unknown }; finish_reason?: unknown }>;
  error?: { message?: unknown };
};

/** How much of an upstream error body is quoted in the error message (it reaches logs only). */
const QUOTE_CHARS = 200;

/**
 * Creates a responder that asks an OpenAI-compatible server. The room's recent messages are the
 * context: other people's as `user` messages `"name: text"`, the bot's own (except failed
 * replies) as `assistant` messages. Content deltas are yielded as they arrive; the stream ends at
 * `data: [DONE]`.
 *
 * @param options `baseUrl`, `model`, `apiKey`, `fetch`, `timeoutMs`, `systemPrompt`.
 * @returns A {@link Responder}. Iterating it rejects with {@link OpenAIError} on a non-2xx answer,
 *   a malformed chunk, a stream that ends before `[DONE]`, or the timeout.
 * @throws {TypeError} If `baseUrl` is not an absolute http(s) URL or `model` is empty.
 *
 * @example
 * ```ts
 * import { openAIResponder } from "./openai.ts";
 * import { createChatApp } from "./mod.ts";
 * const app = createChatApp({
 *   responder: openAIResponder({ baseUrl: "https://api.openai.com", model: "gpt-4o-mini", apiKey: "sk-..." }),
 * });
 * ```
 */
export function openAIResponder(options: OpenAIResponderOptions): Responder {
  const base = new URL(options.baseUrl);
  if (base.protocol !== "http:" && base.protocol !== "https:") {
    throw new TypeError(
      `Cannot create OpenAI responder: "baseUrl" must be an http or https URL, received ${JSON.stringify(options.baseUrl)}`,
    );
  }
  if (typeof options.model !== "string" || options.model === "") {
    throw new TypeError('Cannot create OpenAI responder: "model" must be a non-empty string');
  }
  const endpoint = `${options.baseUrl.replace(/\/+$/, "")}/v1/chat/completions`;
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Cannot create OpenAI responder: "timeoutMs" must be a positive number, received ${String(timeoutMs)}`,
    );
  }
  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;

  return async function* openAI(request) {
    const doFetch = options.fetch ?? fetch;
    const controller = new AbortController();
    const timeout = new OpenAIError("timeout", `The OpenAI-compatible request timed out after ${timeoutMs} ms`);
    const timer = setTimeout(() => controller.abort(timeout), timeoutMs);
    const onAbort = () => controller.abort(request.signal.reason);
    if (request.signal.aborted) onAbort();
    else request.signal.addEventListener("abort", onAbort, { once: true });
    // Rethrows the abort reason (our timeout, or the caller's) in place of fetch's AbortError.
    const aborted = (error: unknown): unknown => (controller.signal.aborted ? controller.signal.reason : error);
    try {
      const body = JSON.stringify({
        model: options.model,
        stream: true,
        messages: contextOf(request, options.systemPrompt),
      });
      // One request, never repeated: a reconnect would start a second completion. The answer is
      // checked before connect() sees it, so a refusal keeps the upstream's own words.
      const events = connect(endpoint, {
        method: "POST",
        headers,
        body,
        signal: controller.signal,
        reconnect: false,
        fetch: async (upstream) => {
          const response = await doFetch(upstream);
          await checkResponse(response);
          return response;
        },
      });
      let finished = false;
      // Leaving this loop early (an error, or the consumer stopping the reply) closes the
      // connection, which cancels the body and releases the upstream connection.
      try {
        for await (const event of events) {
          // The OpenAI stream's terminator; the data is not JSON.
          if (event.data === "[DONE]") return;
          const chunk = parseChunk(event.data);
          const choice = chunk.choices?.[0];
          if (choice?.finish_reason !== undefined && choice.finish_reason !== null) finished = true;
          const content = choice?.delta?.content;
          if (typeof content === "string" && content !== "") yield content;
        }
      } catch (error) {
        throw aborted(error);
      }
      // connect() ends quietly when its signal aborts: report why.
      if (controller.signal.aborted) throw controller.signal.reason;
      // Some compatible servers omit [DONE] after the final chunk; without either, the answer was cut.
      if (!finished) throw new OpenAIError("protocol", "The OpenAI-compatible stream ended before [DONE]");
    } finally {
      clearTimeout(timer);
      request.signal.removeEventListener("abort", onAbort);
    }
  };
}

function contextOf(
  { room, text, history, language }: ResponderRequest,
  systemPrompt: string | undefined,
): ChatCompletionMessage[] {
  const messages: ChatCompletionMessage[] = [
    {
      role: "system",
      content:
        systemPrompt ??
        `You are "bot" in the chat room "${room}". Several people talk here; each of their messages starts with the ` +
          'speaker\'s name. Messages for you start with "/bot" or "@bot". Answer the latest one briefly, in plain text, ' +
          `in the language it is written in${language === undefined ? "" : ` (its writer's browser prefers ${language})`}.`,
    },
  ];
  for (const message of history) {
    if (message.error === true) continue; // failed replies are notes for people, not context
    if (message.user === "bot") messages.push({ role: "assistant", content: message.text });
    else messages.push({ role: "user", content: `${message.user}: ${message.text}` });
  }
  if (history.length === 0) messages.push({ role: "user", content: text });
  return messages;
}

async function checkResponse(response: Response): Promise<void> {
  if (!response.ok) {
    const detail = await response.text().then(
      (body) => body.slice(0, QUOTE_CHARS),
      () => "",
    );
    throw new OpenAIError(
      "status",
      `The OpenAI-compatible server answered ${response.status}${detail === "" ? "" : `: ${detail}`}`,
      response.status,
    );
  }
  const type = response.headers.get("content-type") ?? "";
  if (!type.toLowerCase().startsWith("text/event-stream") || response.body === null) {
    await response.body?.cancel().catch(() => {});
    throw new OpenAIError(
      "protocol",
      `The OpenAI-compatible server answered ${JSON.stringify(type)} instead of text/event-stream`,
    );
  }
}

function parseChunk(data: string): ChatCompletionChunk {
  let chunk: unknown;
  try {
    chunk = JSON.parse(data);
  } catch {
    throw new OpenAIError(
      "protocol",
      `The OpenAI-compatible stream sent a chunk that is not JSON: ${JSON.stringify(data.slice(0, QUOTE_CHARS))}`,
    );
  }
  if (typeof chunk !== "object" || chunk === null) {
    throw new OpenAIError(
      "protocol",
      `The OpenAI-compatible stream sent a chunk that is not an object: ${JSON.stringify(data.slice(0, QUOTE_CHARS))}`,
    );
  }
  const { error } = chunk as ChatCompletionChunk;
  if (error !== undefined) {
    throw new OpenAIError(
      "protocol",
      `The OpenAI-compatible stream reported an error: ${String(error.message ?? "unknown").slice(0, QUOTE_CHARS)}`,
    );
  }
  return chunk as ChatCompletionChunk;
}
