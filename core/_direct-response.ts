/**
 * Private: the `Response` of `eventStreamResponse(pushSource, { direct: true })`, made as it is
 * read.
 *
 * Why it is lazy: a mount that writes push streams to its connections (Node's) needs a
 * response's status, its header list and its push stream, nothing else. A real `Response` for
 * each subscriber costs its `ReadableStream` (~5 KiB allocated on Node), the undici `Response`
 * and `Headers` (~2.5 KiB), and the mount's walk over those headers (~2 KiB), all garbage a
 * moment later; a crowd connecting at once turns that garbage into a larger young generation of
 * the V8 heap, which the process keeps: resident memory per open stream. So the handler gets a
 * {@link DirectEventStreamResponse}: a `Response` (its prototype chain ends at
 * `Response.prototype`) whose status and headers are answered from what it was made with, whose
 * `Headers` are made when first read, and which builds the real `Response` (the same headers, the
 * stream's readable side as its body) only when something else is used: the body, `text()`,
 * `clone()`, ... The mount asks `directResponse(response)` first, and gets the cheap view while
 * nothing needed the real one.
 *
 * @module
 */
import type { PushStreamHandle } from "./_push-stream.ts";
import { type AttachedStream, type ByteSink, DIRECT_RESPONSE, type DirectResponse } from "./push-source.ts";

/**
 * A `Response` over a push stream, made as it is read (see the module's doc). It is
 * `instanceof Response` and answers every property and method of one.
 *
 * One thing differs from a real `Response`: once the real one is built (the body was read, or
 * the response cloned), a change made after that through a `Headers` object read before it no
 * longer reaches the real response; changes made before it do, and `headers` read afterwards is
 * the real one's.
 *
 * @example
 * ```ts
 * import { eventStreamResponse, PUSH_SOURCE } from "./mod.ts";
 * const response = eventStreamResponse({ [PUSH_SOURCE]: () => () => {} }, { direct: true });
 * console.log(response instanceof Response, response.headers.get("content-type")); // true "text/event-stream; charset=utf-8"
 * await response.body?.cancel();
 * ```
 */
// Not `implements Response`: every runtime's `Response` type has its own extra members; the
// prototype chain ends at `Response.prototype`, which is what counts at run time.
export class DirectEventStreamResponse {
  readonly #stream: PushStreamHandle;
  /** The header fields as a flat list, shared by every response with the same headers. */
  readonly #list: readonly string[];
  #headers: Headers | undefined;
  #real: Response | undefined;

  /** Use `eventStreamResponse(source, { direct: true })`. */
  constructor(stream: PushStreamHandle, list: readonly string[]) {
    if (prepared === undefined) prepared = prepare();
    this.#stream = stream;
    this.#list = list;
  }

  // Only status 200 responses are made direct (see event-stream-response.ts).
  get status(): number {
    return 200;
  }
  get statusText(): string {
    return this.#real?.statusText ?? "";
  }
  get ok(): boolean {
    return true;
  }
  get type(): ResponseType {
    return "default";
  }
  get url(): string {
    return "";
  }
  get redirected(): boolean {
    return false;
  }

  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    if (this.#headers === undefined) {
      const headers = new Headers();
      const list = this.#list;
      for (let i = 0; i + 1 < list.length; i += 2) headers.append(list[i] as string, list[i + 1] as string);
      this.#headers = headers;
    }
    return this.#headers;
  }

  get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#materialize().body;
  }
  get bodyUsed(): boolean {
    return this.#real?.bodyUsed ?? false;
  }

  // Everything below is the real response's.
  clone(): Response {
    return this.#materialize().clone();
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#materialize().arrayBuffer();
  }
  blob(): Promise<Blob> {
    return this.#materialize().blob();
  }
  bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#materialize().bytes();
  }
  formData(): Promise<FormData> {
    return this.#materialize().formData();
  }
  json(): Promise<unknown> {
    return this.#materialize().json();
  }
  text(): Promise<string> {
    return this.#materialize().text();
  }

  /** The mount's view while nothing needed the real response; see `directResponse`. */
  [DIRECT_RESPONSE](): DirectResponse | undefined {
    if (this.#real !== undefined) return undefined;
    return new DirectView(this.#stream, this.#headers === undefined ? this.#list : flatList(this.#headers));
  }

  /** The real `Response`: the same headers, the stream's readable side as its body. Built once. */
  #materialize(): Response {
    if (this.#real === undefined) {
      this.#real = new Response(this.#stream.readable(), { status: 200, headers: this.headers });
      this.#headers = undefined;
    }
    return this.#real;
  }

  /** See {@link DirectEventStreamResponse.#materialize}, for the forwarded members. */
  static materialize(response: DirectEventStreamResponse): Response {
    return response.#materialize();
  }
}

/** What `directResponse` returns: the status, header list and stream, with nothing of the response. */
class DirectView implements DirectResponse {
  readonly #stream: PushStreamHandle;
  readonly headers: readonly string[];

  constructor(stream: PushStreamHandle, headers: readonly string[]) {
    this.#stream = stream;
    this.headers = headers;
  }

  get status(): number {
    return 200;
  }

  get statusText(): string {
    return "";
  }

  attach(sink: ByteSink): AttachedStream | undefined {
    return this.#stream.attach(sink);
  }

  cancel(): void {
    this.#stream.cancel();
  }
}

/**
 * `headers` as a flat `[name, value, ...]` list: in `Headers` order (lower-case names, sorted),
 * each `set-cookie` value on its own.
 *
 * @param headers The headers.
 * @returns The list.
 *
 * @example
 * ```ts
 * import { flatList } from "./_direct-response.ts";
 * flatList(new Headers({ "X-B": "2", "x-a": "1" })); // ["x-a", "1", "x-b", "2"]
 * ```
 */
export function flatList(headers: Headers): string[] {
  const list: string[] = [];
  for (const [name, value] of headers) if (name !== "set-cookie") list.push(name, value);
  for (const cookie of headers.getSetCookie()) list.push("set-cookie", cookie);
  return list;
}

/** Whether {@link prepare} ran: it runs on the first direct response (nothing runs on import). */
let prepared: true | undefined;

/**
 * Completes {@link DirectEventStreamResponse}'s prototype, once: its chain ends at
 * `Response.prototype` (so `response instanceof Response` holds and `response.constructor` is
 * `Response`), and whatever else `Response.prototype` has on this runtime (`Symbol.toStringTag`,
 * an inspect hook, members added later) and the symbol-keyed state of a real response (undici's)
 * are forwarded to the real response, built for them.
 */
function prepare(): true {
  const proto = DirectEventStreamResponse.prototype;
  Object.setPrototypeOf(proto, Response.prototype);
  Object.defineProperty(proto, "constructor", { value: Response, writable: true, configurable: true });
  const own = (key: PropertyKey) => Object.hasOwn(proto, key);
  const real = (response: DirectEventStreamResponse) => DirectEventStreamResponse.materialize(response);
  for (const key of Reflect.ownKeys(Response.prototype)) {
    if (own(key)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(Response.prototype, key)!;
    const enumerable = descriptor.enumerable ?? false;
    if (descriptor.get !== undefined) {
      const get = descriptor.get;
      Object.defineProperty(proto, key, {
        get(this: DirectEventStreamResponse) {
          return Reflect.apply(get, real(this), []);
        },
        configurable: true,
        enumerable,
      });
    } else if (typeof descriptor.value === "function") {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(proto, key, {
        value(this: DirectEventStreamResponse, ...args: unknown[]) {
          return Reflect.apply(method, real(this), args);
        },
        writable: true,
        configurable: true,
        enumerable,
      });
    } else Object.defineProperty(proto, key, descriptor);
  }
  for (const key of Object.getOwnPropertySymbols(new Response(null))) {
    if (own(key)) continue;
    Object.defineProperty(proto, key, {
      get(this: DirectEventStreamResponse) {
        return (real(this) as unknown as Record<symbol, unknown>)[key];
      },
      set(this: DirectEventStreamResponse, value: unknown) {
        (real(this) as unknown as Record<symbol, unknown>)[key] = value;
      },
      configurable: true,
    });
  }
  return true;
}
