/**
 * Private: the shape every runtime mount shares (`adapters/node.ts`, `bun.ts`, `deno.ts`), so
 * the chat server's entry (`_main.ts`) runs unchanged on each.
 *
 * @module
 */

/** Anything that answers a web `Request`, such as `createChatApp(...).fetch`. */
export type Handler = (request: Request) => Response | Promise<Response>;

/** Where a server listens. */
export type ListenAddress = { host: string; port: number; url: string };

/** Options every mount accepts. */
export type ServeOptions = {
  /** TCP port; `0` (the default) picks a free one. */
  port?: number;
  /** Interface; default `127.0.0.1`. */
  host?: string;
  /** Where handler failures are reported; default `console.error`. */
  onError?(error: unknown): void;
};

/** A running server, whatever the runtime. */
export type RuntimeServer = ListenAddress & {
  /** Stops accepting connections and resolves once open ones are closed (bounded). Idempotent. */
  close(): Promise<void>;
};

/** A runtime's mount: `serve` from `node.ts`, `bun.ts` or `deno.ts`. */
export type Serve = (handler: Handler, options: ServeOptions) => Promise<RuntimeServer>;
