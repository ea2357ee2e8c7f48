/**
 * Private: `connect`'s input and options, checked once (so a mistake throws at the call, not on
 * some later reconnect), and the request each attempt sends.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#dom-eventsource
 * @module
 */
import { type BackoffPolicy, backoffPolicy } from "./_backoff.ts";
import { checkNumber, describe } from "./_check.ts";
import type { ConnectBody, ConnectOptions, RetryInfo } from "./types.ts";

/** What a connection needs from its options, checked, with the defaults filled in. */
export type ConnectSettings = {
  /** The request every attempt copies: URL, method, headers (no body, no signal). */
  readonly template: Request;
  /** The URL for messages: without its query and fragment, which may hold secrets. */
  readonly label: string;
  readonly body: ConnectBody | undefined;
  readonly fetch: (request: Request) => Promise<Response>;
  /** Aborting any of them closes the connection: `signal`, and a `Request` input's own. */
  readonly signals: readonly AbortSignal[];
  readonly lastEventId: string;
  readonly reconnectionTime: number;
  readonly maxEventSize: number | undefined;
  readonly idleTimeout: number | undefined;
  readonly backoff: BackoffPolicy | undefined;
  /** `false`: one request only; its end ends the iteration and a network error fails it. */
  readonly reconnect: boolean;
  readonly onOpen: ((response: Response) => void) | undefined;
  readonly onRetry: ((info: RetryInfo) => void) | undefined;
  readonly onError: ((error: unknown) => void) | undefined;
  readonly onComment: ((text: string) => void) | undefined;
};

const ACTION = "Cannot connect";
/** The spec's suggestion: "probably in the region of a few seconds" (Chromium and undici use 3 s). */
const DEFAULT_RECONNECTION_TIME = 3000;
const HOOKS = ["fetch", "onOpen", "onRetry", "onError", "onComment"] as const;
/** What no HTTP field value may hold (RFC 9110 §5.5): the controls but tab, and DEL. */
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;

/**
 * Checks `connect`'s arguments.
 *
 * @param input The URL or `Request` to connect to.
 * @param options The options.
 * @returns The settings.
 * @throws {TypeError} On an input or option of the wrong type, a body that cannot be sent again
 *   (a `ReadableStream`, or a `Request` input's own body), a body on GET or HEAD, or a
 *   `Last-Event-ID` header (the `lastEventId` option sets it).
 * @throws {RangeError} On a number out of range.
 *
 * @example
 * ```ts
 * import { connectSettings } from "./_connect-options.ts";
 * connectSettings("https://example.com/events?token=secret", {}).label; // "https://example.com/events"
 * ```
 */
export function connectSettings(input: string | URL | Request, options: ConnectOptions): ConnectSettings {
  if (typeof input !== "string" && !(input instanceof URL) && !(input instanceof Request)) {
    throw new TypeError(`${ACTION}: "input" must be a URL string, a URL or a Request, received ${describe(input)}`);
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${ACTION}: "options" must be an object, received ${describe(options)}`);
  }
  for (const name of HOOKS) {
    const hook = options[name];
    if (hook !== undefined && typeof hook !== "function") {
      throw new TypeError(`${ACTION}: "${name}" must be a function, received ${describe(hook)}`);
    }
  }
  const { method, body, signal, lastEventId = "", reconnect = true } = options;
  if (typeof reconnect !== "boolean") {
    throw new TypeError(`${ACTION}: "reconnect" must be a boolean, received ${describe(reconnect)}`);
  }
  if (!reconnect && options.backoff !== undefined && options.backoff !== false) {
    throw new TypeError(`${ACTION}: "backoff" needs "reconnect"; it is false`);
  }
  // Checked here, not left to Request: Bun's takes any method name.
  if (method !== undefined && (typeof method !== "string" || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method))) {
    throw new TypeError(`${ACTION}: "method" must be an HTTP method name (a token), received ${describe(method)}`);
  }
  if (signal !== undefined && !isSignal(signal)) {
    throw new TypeError(`${ACTION}: "signal" must be an AbortSignal, received ${describe(signal)}`);
  }
  if (typeof lastEventId !== "string" || CONTROL.test(lastEventId)) {
    const what = typeof lastEventId === "string" ? "a string without control characters (tab aside)" : "a string";
    throw new TypeError(`${ACTION}: "lastEventId" must be ${what}, received ${describe(lastEventId)}`);
  }
  if (body !== undefined) {
    checkBody(body);
    const verb = (method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    if (verb === "GET" || verb === "HEAD") {
      throw new TypeError(`${ACTION}: a ${verb} request cannot have a "body"; set "method", e.g. to "POST"`);
    }
  } else if (input instanceof Request && input.body !== null) {
    throw new TypeError(
      `${ACTION}: the Request's body can be read only once, but every reconnect sends it again; pass it as the "body" option instead`,
    );
  }
  // The EventSource constructor's request: cache mode "no-store", and (as user agents may)
  // `Accept: text/event-stream`.
  const init: RequestInit = { cache: "no-store" };
  if (method !== undefined) init.method = method;
  if (options.headers !== undefined) init.headers = options.headers;
  const template = new Request(input, init);
  if (template.headers.has("last-event-id")) {
    throw new TypeError(
      `${ACTION}: set the "lastEventId" option instead of a Last-Event-ID header (connect sends the header on every reconnect)`,
    );
  }
  if (!template.headers.has("accept")) template.headers.set("accept", "text/event-stream");
  const url = new URL(template.url);
  url.search = url.hash = "";
  const fetcher = options.fetch ?? ((request: Request) => fetch(request));
  return {
    template,
    label: url.href,
    body,
    // Called as a plain function: a platform `fetch` called as a method of the options throws.
    fetch: (request) => fetcher(request),
    signals:
      input instanceof Request
        ? signal === undefined
          ? [input.signal]
          : [signal, input.signal]
        : signal === undefined
          ? []
          : [signal],
    lastEventId,
    reconnectionTime:
      optional(options.reconnectionTime, "reconnectionTime", "a non-negative safe integer") ??
      DEFAULT_RECONNECTION_TIME,
    maxEventSize: optional(options.maxEventSize, "maxEventSize", "a positive number"),
    idleTimeout: optional(options.idleTimeout, "idleTimeout", "a positive finite number"),
    backoff: backoffPolicy(options.backoff),
    reconnect,
    onOpen: options.onOpen,
    onRetry: options.onRetry,
    onError: options.onError,
    onComment: options.onComment,
  };
}

/**
 * The request of one attempt: the template with `signal`, the body, and, when the last event ID
 * string is not empty, `Last-Event-ID` set to it encoded as UTF-8 (the spec's step 5 of
 * reestablishing the connection; the first request sends the `lastEventId` option the same way).
 *
 * @param settings The checked settings.
 * @param lastEventId The event source's last event ID string.
 * @param signal Aborts this attempt's fetch.
 * @returns A new `Request`.
 * @throws {TypeError} If the last event ID holds a control character, which no header may carry
 *   (Node's and Deno's fetch would fail every attempt, Bun's would drop the header).
 *
 * @example
 * ```ts
 * import { attemptRequest, connectSettings } from "./_connect-options.ts";
 * const request = attemptRequest(connectSettings("https://example.com/events", {}), "42", new AbortController().signal);
 * request.headers.get("last-event-id"); // "42"
 * ```
 */
export function attemptRequest(settings: ConnectSettings, lastEventId: string, signal: AbortSignal): Request {
  const headers = new Headers(settings.template.headers);
  if (CONTROL.test(lastEventId)) {
    throw new TypeError(
      `Cannot reconnect to ${settings.label}: the last event ID ${JSON.stringify(lastEventId)} holds a control character, which no HTTP header can carry as Last-Event-ID`,
    );
  }
  if (lastEventId !== "") headers.set("last-event-id", utf8Bytes(lastEventId));
  const init: RequestInit = { headers, signal };
  if (settings.body !== undefined) init.body = settings.body;
  return new Request(settings.template, init);
}

/**
 * `text` as a header value carrying its UTF-8 bytes: header values are byte strings, one byte per
 * character, so each byte of the encoding becomes the character of that code.
 */
function utf8Bytes(text: string): string {
  if (!/[^\0-\x7f]/.test(text)) return text;
  let bytes = "";
  for (const byte of new TextEncoder().encode(text)) bytes += String.fromCharCode(byte);
  return bytes;
}

function checkBody(body: unknown): void {
  const resendable =
    typeof body === "string" ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof Blob ||
    body instanceof FormData ||
    body instanceof URLSearchParams;
  if (resendable) return;
  const received = body instanceof ReadableStream ? "a ReadableStream, which can be read only once" : describe(body);
  throw new TypeError(
    `${ACTION}: "body" must be one every reconnect can send again (a string, ArrayBuffer, typed array, DataView, Blob, FormData or URLSearchParams), received ${received}`,
  );
}

function isSignal(value: unknown): value is AbortSignal {
  const signal = value as Partial<AbortSignal> | null;
  return (
    typeof signal === "object" &&
    signal !== null &&
    typeof signal.aborted === "boolean" &&
    typeof signal.addEventListener === "function"
  );
}

function optional(
  value: number | undefined,
  name: string,
  kind: "a positive number" | "a positive finite number" | "a non-negative safe integer",
): number | undefined {
  return value === undefined
    ? undefined
    : checkNumber(value, kind, ACTION, name, name === "maxEventSize" ? undefined : "milliseconds");
}
