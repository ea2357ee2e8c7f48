import { type IncomingMessage, request as httpRequest } from "node:http";
import { inspect } from "node:util";
import { connect, type Socket } from "node:net";
import { Agent, fetch, Response as UndiciResponse } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { type ConnectionInfo, serve, type Handler, type NodeServer, type ServeOptions } from "../adapters/node.ts";
import { EncodedEvent, eventStreamResponse, PUSH_SOURCE, type PushConsumer, SECURITY_HEADERS } from "../core/mod.ts";
import { waitFor, within } from "./_server.ts";

const servers: NodeServer[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function start(handler: Handler, options: ServeOptions = {}): Promise<NodeServer> {
  const server = await serve(handler, { port: 0, host: "127.0.0.1", onError: () => {}, ...options });
  servers.push(server);
  return server;
}

/** A promise with its resolve function outside. */
function deferred<T = void>(): { promise: Promise<T>; resolve(value: T): void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A raw TCP client: sends `text` as is and collects what comes back. */
async function rawRequest(
  server: NodeServer,
  text: string,
): Promise<{ socket: Socket; received(): string; closed: Promise<void> }> {
  const socket = connect(server.port, "127.0.0.1");
  sockets.push(socket);
  let received = "";
  socket.setEncoding("latin1").on("data", (chunk: string) => (received += chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  socket.write(text);
  return { socket, received: () => received, closed };
}

const echo: Handler = async (request) =>
  Response.json({
    method: request.method,
    url: request.url,
    headers: Object.fromEntries(request.headers),
    body: request.body === null ? null : await request.text(),
  });

describe("serve request mapping", () => {
  it("serve maps method, URL, query and headers", async () => {
    const server = await start(echo);
    const response = await fetch(`${server.url}/rooms/a/events?lastEventId=x-1&b=%20`, {
      headers: { "x-one": "1", "Last-Event-ID": "abc-7", accept: "text/event-stream" },
    });
    const seen = (await response.json()) as {
      method: string;
      url: string;
      headers: Record<string, string>;
      body: null;
    };
    expect(seen.method).toBe("GET");
    expect(seen.url).toBe(`${server.url}/rooms/a/events?lastEventId=x-1&b=%20`);
    expect(seen.headers).toMatchObject({
      "x-one": "1",
      "last-event-id": "abc-7",
      accept: "text/event-stream",
      host: `127.0.0.1:${server.port}`,
    });
    expect(seen.body).toBeNull();
  });

  it("serve passes a POST body to the handler as a stream", async () => {
    const server = await start(echo);
    const response = await fetch(`${server.url}/rooms/a/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "ana", text: "héllo" }),
    });
    expect(await response.json()).toMatchObject({
      method: "POST",
      body: '{"user":"ana","text":"héllo"}',
      headers: { "content-type": "application/json" },
    });
  });

  it("serve streams a 3 MiB request body to the handler", async () => {
    const server = await start(async (request) => {
      let bytes = 0;
      for await (const chunk of request.body as ReadableStream<Uint8Array>) bytes += chunk.byteLength;
      return Response.json({ bytes });
    });
    const body = new Uint8Array(3 * 1024 * 1024).fill(120);
    const response = await fetch(`${server.url}/upload`, { method: "PUT", body });
    expect(await response.json()).toEqual({ bytes: body.byteLength });
  });

  it("serve discards a body the handler left unread, so the connection carries the next request", async () => {
    const server = await start(async (request) => {
      const path = new URL(request.url).pathname;
      if (path === "/cancel" || path === "/half") {
        const reader = (request.body as ReadableStream<Uint8Array>).getReader();
        await reader.read();
        if (path === "/cancel") await reader.cancel();
      }
      return new Response(path);
    });
    let connections = 0;
    server.server.on("connection", () => connections++);
    const dispatcher = new Agent({ connections: 1 });
    try {
      for (const path of ["/ignore", "/cancel", "/half"]) {
        const answered = await fetch(`${server.url}${path}`, {
          method: "POST",
          body: new Uint8Array(1024 * 1024),
          dispatcher,
        });
        expect(await answered.text()).toBe(path);
        const next = await within(5000, fetch(`${server.url}/next`, { dispatcher }), `the request after ${path}`);
        expect(await next.text()).toBe("/next");
      }
      expect(connections).toBe(1);
    } finally {
      await dispatcher.close();
    }
  });

  it("serve answers what node:http refuses itself (malformed, oversized headers, a deadline, CONNECT) as JSON with the security headers", async () => {
    const server = await start(echo, { http: { headersTimeout: 300, requestTimeout: 600, maxHeaderSize: 1024 } });
    const cases: [string, number, string][] = [
      ["GARBAGE\r\n\r\n", 400, "The request is not valid HTTP"],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(2048)}\r\n\r\n`, 431, "The request headers are too large"],
      ["GET / HTTP/1.1\r\nHost: x\r\n", 408, "The request did not arrive in time"], // headers never end
      // node:http hands a CONNECT's socket over as a tunnel, unanswered.
      ["CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 405, "CONNECT is not served here: this server is not a proxy"],
    ];
    for (const [head, status, error] of cases) {
      const raw = await rawRequest(server, head);
      await within(5000, raw.closed, `the answer ${status}`);
      const [headers = "", body = ""] = raw.received().split("\r\n\r\n");
      expect(headers).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
      expect(headers.toLowerCase()).toContain("x-content-type-options: nosniff");
      expect(headers.toLowerCase()).toContain("content-security-policy:");
      expect(headers.toLowerCase()).toContain("connection: close");
      expect(JSON.parse(body)).toEqual({ error });
    }
  });

  it("serve keeps a target like //host/x a path of this server", async () => {
    const server = await start(echo);
    const raw = await rawRequest(
      server,
      `GET //evil.example/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close\r\n\r\n`,
    );
    await within(5000, raw.closed, "the response");
    expect(raw.received()).toContain(`"url":"http://127.0.0.1:${server.port}//evil.example/x?y=1"`);
  });

  it("serve answers 400 with JSON and the security headers to a request no Request can represent", async () => {
    const server = await start(echo);
    // Each with the fixed answer for its cause, and what the client sent that must not come back.
    const cases: [string, string, string[]][] = [
      ["GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n", "The Host header is not a valid host", ["evil.example"]],
      [
        "GET http://user:secret@127.0.0.1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "The request target must not carry credentials",
        ["user:secret", "secret"],
      ],
      ["GET http://[::1/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "The request target is not a valid URL", ["[::1"]],
      ["TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", "The request method is not supported", ["TRACE"]],
      ["GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", "The Host header is not a valid host", ["[::1"]], // the URL parser refuses it
    ];
    for (const [head, error, echoed] of cases) {
      const raw = await rawRequest(server, head);
      await within(5000, raw.closed, `the answer to ${JSON.stringify(head)}`);
      const [headers = "", body = ""] = raw.received().split("\r\n\r\n", 2);
      expect(headers).toMatch(/^HTTP\/1\.1 400 /);
      for (const [name, value] of Object.entries(SECURITY_HEADERS))
        expect(headers.toLowerCase()).toContain(`${name}: ${value.toLowerCase()}`);
      expect(headers.toLowerCase()).toContain("connection: close");
      expect(/^transfer-encoding: chunked$/im.test(headers) ? dechunk(body) : body).toBe(JSON.stringify({ error }));
      for (const text of echoed) expect(raw.received()).not.toContain(text);
    }
  });

  it("serve answers HEAD with the headers and no body", async () => {
    const cancelled = deferred();
    const server = await start(
      () =>
        new Response(new ReadableStream({ cancel: () => cancelled.resolve() }), { headers: { "x-kind": "stream" } }),
    );
    const response = await fetch(server.url, { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-kind")).toBe("stream");
    expect(await response.text()).toBe("");
    await within(5000, cancelled.promise, "the unused body to be cancelled");
  });

  it("serve sends status, status text and repeated set-cookie headers", async () => {
    const server = await start(() => {
      const headers = new Headers({ "content-type": "text/plain" });
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      return new Response("made", { status: 201, statusText: "Made", headers });
    });
    const response = await fetch(server.url);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe("Made");
    expect(response.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
    expect(await response.text()).toBe("made");
  });

  it("serve calls onListen with the real port", async () => {
    const seen = deferred<{ port: number; url: string }>();
    const server = await start(() => new Response("ok"), { onListen: (address) => seen.resolve(address) });
    expect(await seen.promise).toMatchObject({ port: server.port, url: `http://127.0.0.1:${server.port}` });
    expect(server.port).toBeGreaterThan(0);
  });
});

/** Every Request property a handler can read, from `request` (a real one, or the mount's). */
function requestProperties(request: Request): Record<string, unknown> {
  const props: Record<string, unknown> = {};
  for (const key of Object.getOwnPropertyNames(Request.prototype)) {
    const descriptor = Object.getOwnPropertyDescriptor(Request.prototype, key);
    if (descriptor?.get === undefined || key === "signal" || key === "body") continue;
    const value = (request as unknown as Record<string, unknown>)[key];
    props[key] = value instanceof Headers ? [...value] : value;
  }
  return props;
}

describe("serve's request (built as it is read)", () => {
  it("serve's request is a Request with every property of one, the same as a Request built from the same parts", async () => {
    const seen = deferred<{ request: Request; reference: Request }>();
    const server = await start((request) => {
      const headers: [string, string][] = [];
      for (const [name, value] of request.headers) headers.push([name, value]);
      seen.resolve({ request, reference: new Request(request.url, { method: request.method, headers }) });
      return new Response("ok");
    });
    await (await fetch(`${server.url}/a/b?c=d`, { headers: { "x-one": "1", accept: "text/plain" } })).text();
    const { request, reference } = await seen.promise;
    expect(request).toBeInstanceOf(Request);
    expect(request.constructor).toBe(Request);
    expect(Object.prototype.toString.call(request)).toBe("[object Request]");
    expect(requestProperties(request)).toEqual(requestProperties(reference));
    expect(request.url).toBe(`${server.url}/a/b?c=d`);
    expect(request.headers.get("x-one")).toBe("1");
    expect(request.headers).toBe(request.headers); // one object, not one per read
    expect(request.body).toBeNull();
    expect(request.bodyUsed).toBe(false);
    expect(request.signal).toBeInstanceOf(AbortSignal);
    expect(request.signal).toBe(request.signal);
    expect(inspect(request)).toContain("/a/b?c=d");
    const clone = request.clone();
    expect(clone).toBeInstanceOf(Request);
    expect([clone.method, clone.url, clone.headers.get("x-one")]).toEqual(["GET", request.url, "1"]);
    const copy = new Request(request);
    expect([copy.method, copy.url, copy.headers.get("accept")]).toEqual(["GET", request.url, "text/plain"]);
    const changed = new Request(request, { method: "PUT", body: "x" });
    expect([changed.method, await changed.text()]).toEqual(["PUT", "x"]);
  });

  it("serve's request reads its body with text, json, arrayBuffer, bytes, blob, formData and the stream, once", async () => {
    const server = await start(async (request) => {
      const kind = new URL(request.url).pathname.slice(1);
      expect(request.bodyUsed).toBe(false);
      let value: unknown;
      if (kind === "text") value = await request.text();
      else if (kind === "json") value = await request.json();
      else if (kind === "arrayBuffer") value = new TextDecoder().decode(await request.arrayBuffer());
      else if (kind === "bytes") value = new TextDecoder().decode(await request.bytes());
      else if (kind === "blob") value = await (await request.blob()).text();
      else if (kind === "formData") value = (await request.formData()).get("a");
      else if (kind === "clone") value = [await request.clone().text(), await request.text()];
      else value = await new Response(request.body).text();
      expect(request.bodyUsed).toBe(true);
      await expect(request.text()).rejects.toThrow(TypeError); // a body is read once
      return Response.json({ value });
    });
    const post = async (kind: string, body: string, type = "text/plain") =>
      (
        (await (
          await fetch(`${server.url}/${kind}`, { method: "POST", body, headers: { "content-type": type } })
        ).json()) as {
          value: unknown;
        }
      ).value;
    expect(await post("text", "héllo")).toBe("héllo");
    expect(await post("json", '{"a":[1]}', "application/json")).toEqual({ a: [1] });
    expect(await post("arrayBuffer", "ab")).toBe("ab");
    expect(await post("bytes", "by")).toBe("by");
    expect(await post("blob", "bl")).toBe("bl");
    expect(await post("formData", "a=1&b=2", "application/x-www-form-urlencoded")).toBe("1");
    expect(await post("clone", "twice")).toEqual(["twice", "twice"]);
    expect(await post("stream", "streamed")).toBe("streamed");
  });

  it("serve's request hands its body stream over without building the real request; one only looked at still reads", async () => {
    const server = await start(async (request) => {
      const kind = new URL(request.url).pathname.slice(1);
      if (kind === "peek") return Response.json({ value: request.body === null ? null : await request.text() });
      const read = await new Response(request.body).text();
      expect(request.bodyUsed).toBe(true);
      expect(() => request.clone()).toThrow(TypeError);
      await expect(request.json()).rejects.toThrow(TypeError);
      // What else a Request answers still answers, from a real one built without the used body.
      expect([request.method, request.mode, request.cache]).toEqual(["POST", "cors", "default"]);
      return Response.json({ value: read });
    });
    const post = async (kind: string) =>
      ((await (await fetch(`${server.url}/${kind}`, { method: "POST", body: kind })).json()) as { value: unknown })
        .value;
    expect(await post("peek")).toBe("peek");
    expect(await post("stream")).toBe("stream");
  });

  it("serve's request can be passed on: new Request(url, request) forwards method, headers and the streamed body", async () => {
    const upstream = await start(echo);
    // The global fetch: the undici package's own (imported above) takes only its own Request class.
    const server = await start((request) => globalThis.fetch(new Request(`${upstream.url}/echoed`, request)));
    const response = await fetch(`${server.url}/in`, {
      method: "POST",
      headers: { "x-one": "1", "content-type": "text/plain" },
      body: "passed on",
    });
    expect(await response.json()).toMatchObject({
      method: "POST",
      url: `${upstream.url}/echoed`,
      headers: { "x-one": "1" },
      body: "passed on",
    });
  });

  it("serve aborts a signal first read after the handler returned, when the client closes", async () => {
    const stored = deferred<Request>();
    const server = await start((request) => {
      stored.resolve(request);
      // Not an event stream: the mount keeps the request (and its signal) while the body streams.
      return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("first")) }));
    });
    const raw = await rawRequest(server, "GET /open HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => raw.received().includes("first"), { what: "the first chunk" });
    const request = await stored.promise;
    const signal = request.signal; // read late: the handler did not read it
    expect(signal.aborted).toBe(false);
    const aborted = new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason)));
    raw.socket.destroy();
    expect(String(await within(5000, aborted, "the late signal to abort"))).toContain("client closed the connection");
  });

  it("serve's request signal read only after the client closed is already aborted", async () => {
    const stored = deferred<Request>();
    const closed = deferred();
    const server = await start((request) => {
      stored.resolve(request);
      return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("first")) }));
    });
    server.server.on("request", (_req: IncomingMessage, res) => res.on("close", () => closed.resolve()));
    const raw = await rawRequest(server, "GET /open HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => raw.received().includes("first"), { what: "the first chunk" });
    raw.socket.destroy();
    await within(5000, closed.promise, "the response to close");
    const request = await stored.promise;
    expect(request.signal.aborted).toBe(true);
    expect(String(request.signal.reason)).toContain("client closed the connection");
  });

  it("serve pauses a request body the handler does not read, and delivers all of it once read", async () => {
    const size = 64 * 1024 * 1024; // more than loopback's kernel buffers (up to 32 MiB received, 4 MiB sent)
    const release = deferred();
    let incoming: IncomingMessage | undefined;
    const server = await start(async (request) => {
      const reader = (request.body as ReadableStream<Uint8Array>).getReader();
      let bytes = (await reader.read()).value?.byteLength ?? 0;
      await release.promise; // a handler busy elsewhere
      for (let step = await reader.read(); !step.done; step = await reader.read()) bytes += step.value.byteLength;
      return Response.json({ bytes });
    });
    server.server.on("request", (req: IncomingMessage) => (incoming = req));
    const raw = await rawRequest(server, `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    const chunk = new Uint8Array(64 * 1024).fill(120);
    for (let sent = 0; sent < size; sent += chunk.byteLength) raw.socket.write(chunk);
    // The server stops reading: what the client has handed to the kernel stops growing, short of the body.
    let last = -1;
    let stableSince = Date.now();
    const stalled = await waitFor(
      () => {
        const handed = raw.socket.bytesWritten - raw.socket.writableLength; // not what waits in Node
        if (handed !== last) {
          last = handed;
          stableSince = Date.now();
          return false;
        }
        return Date.now() - stableSince >= 300 ? last : false;
      },
      { timeoutMs: 10_000, what: "the upload to stall" },
    );
    expect(stalled).toBeLessThan(size);
    expect(incoming?.isPaused()).toBe(true);
    release.resolve();
    await waitFor(() => raw.received().includes("\r\n\r\n"), { what: "the answer" });
    await waitFor(() => raw.received().includes(`{"bytes":${size}}`), { what: "the byte count" });
  });
});

describe("serve response streaming", () => {
  it("serve sends event-stream headers before the first event", async () => {
    const release = deferred();
    const server = await start((request) =>
      eventStreamResponse(
        (async function* () {
          await release.promise;
          yield "late";
        })(),
        { signal: request.signal },
      ),
    );
    const response = await within(5000, fetch(`${server.url}/events`), "the headers");
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    release.resolve();
    expect(await response.text()).toBe("data: late\n\n");
  });

  it("serve stops pulling the handler's stream while the client does not read (backpressure)", async () => {
    let pulls = 0;
    const cancelled = deferred();
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const server = await start(
      () =>
        new Response(
          new ReadableStream<Uint8Array>(
            {
              pull(controller) {
                pulls++;
                controller.enqueue(chunk);
              },
              cancel: () => cancelled.resolve(),
            },
            { highWaterMark: 0 },
          ),
        ),
    );
    const raw = await rawRequest(server, "GET /bytes HTTP/1.1\r\nHost: x\r\n\r\n");
    raw.socket.pause(); // a client that stops reading
    // Wait until the server stops pulling: kernel buffers are full and write() said "wait".
    let last = -1;
    let stableSince = Date.now();
    const stalled = await waitFor(
      () => {
        if (pulls !== last) {
          last = pulls;
          stableSince = Date.now();
          return false;
        }
        return Date.now() - stableSince >= 300 ? pulls : false;
      },
      { timeoutMs: 10_000, what: "pulls to stop" },
    );
    // Without backpressure an endless source would be pulled without bound; with it, only the
    // socket buffers (a few MiB on loopback) are ahead of the reader.
    expect(stalled).toBeGreaterThan(0);
    expect(stalled * chunk.byteLength).toBeLessThan(32 * 1024 * 1024);
    raw.socket.resume(); // reading again drains the socket, and pulling resumes
    await waitFor(() => pulls > stalled + 16, { timeoutMs: 10_000, what: "pulls to resume after drain" });
    raw.socket.destroy();
    await within(5000, cancelled.promise, "the body to be cancelled after the client left");
  });

  it("serve aborts request.signal and runs the generator's finally when the client disconnects", async () => {
    const aborted = deferred();
    const finished = deferred();
    const server = await start((request) => {
      request.signal.addEventListener("abort", () => aborted.resolve());
      async function* ticks() {
        try {
          for (let i = 0; ; i++) {
            yield String(i);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          finished.resolve();
        }
      }
      return eventStreamResponse(ticks());
    });
    const controller = new AbortController();
    const response = await fetch(`${server.url}/events`, { signal: controller.signal });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toContain("data: 0");
    controller.abort();
    await within(5000, aborted.promise, "request.signal to abort");
    await within(5000, finished.promise, "the generator's finally");
  });

  it("serve ends an idle stream whose source watches request.signal when the client leaves", async () => {
    const finished = deferred();
    const server = await start((request) => {
      async function* idle(signal: AbortSignal) {
        try {
          yield "hello";
          await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        } finally {
          finished.resolve();
        }
      }
      return eventStreamResponse(idle(request.signal), { signal: request.signal });
    });
    const raw = await rawRequest(server, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => raw.received().includes("data: hello"), { what: "the first event" });
    raw.socket.destroy();
    await within(5000, finished.promise, "the generator's finally");
  });

  it("serve keeps a quiet stream open past headersTimeout and requestTimeout", async () => {
    const next = deferred();
    const server = await start(
      (request) =>
        eventStreamResponse(
          (async function* () {
            yield "first";
            await next.promise;
            yield "second";
          })(),
          { signal: request.signal },
        ),
      { http: { headersTimeout: 200, requestTimeout: 400, connectionsCheckingInterval: 25 } },
    );
    expect(server.server.timeout).toBe(0);
    const response = await fetch(`${server.url}/events`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: first\n\n");
    // The timeouts are live: a request whose headers never end and one whose body never ends
    // are both cut. Waiting for that is waiting past both timeouts, with no sleep.
    const slowHeaders = await rawRequest(server, "GET / HTTP/1.1\r\nHost: x\r\n");
    const slowBody = await rawRequest(server, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n1");
    await within(5000, Promise.all([slowHeaders.closed, slowBody.closed]), "the server to cut the slow requests");
    expect(slowHeaders.received()).toMatch(/^HTTP\/1\.1 408 /);
    next.resolve();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: second\n\n");
  });

  it("serve cuts slow headers, an unfinished body and an idle keep-alive connection, never a quiet event stream", async () => {
    const [HEADERS_MS, REQUEST_MS, KEEP_ALIVE_MS] = [600, 1200, 400];
    const SLACK_MS = 2500; // checked every quarter of the shortest deadline; and a busy machine
    const source = pushSource();
    let bodyErrors = 0;
    const server = await start(
      async (request) => {
        const { pathname } = new URL(request.url);
        if (pathname === "/pushed") return eventStreamResponse(source, { direct: true });
        if (pathname === "/pulled") {
          return eventStreamResponse(
            (async function* () {
              yield "hello";
              await new Promise((resolve) => request.signal.addEventListener("abort", resolve, { once: true }));
            })(),
            { signal: request.signal },
          );
        }
        if (pathname === "/upload") {
          try {
            return Response.json({ bytes: (await request.arrayBuffer()).byteLength });
          } catch {
            bodyErrors++;
            return Response.json({ error: "The body did not arrive" }, { status: 400 });
          }
        }
        return Response.json({ ok: true });
      },
      { http: { headersTimeout: HEADERS_MS, requestTimeout: REQUEST_MS, keepAliveTimeout: KEEP_ALIVE_MS } },
    );
    /** A raw client that notes when it opened, when bytes last arrived and when it closed. */
    const open = async (head: string) => {
      const openedAt = Date.now();
      const raw = await rawRequest(server, head);
      let lastDataAt = 0;
      raw.socket.on("data", () => (lastDataAt = Date.now()));
      return { ...raw, openedAt, lastDataAt: () => lastDataAt, closedAt: raw.closed.then(() => Date.now()) };
    };
    /** Sends `text` a character every 50 ms until the connection closes. */
    const trickle = async (socket: Socket, text: string) => {
      for (const character of text) {
        if (socket.destroyed) return;
        socket.write(character);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };

    // The streams come first: quiet from here on, they are older than every connection cut below.
    const pushed = await open("GET /pushed HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => source.consumer !== undefined, { what: "the pushed stream to start" });
    source.consumer!.push("hello");
    const pulled = await open("GET /pulled HTTP/1.1\r\nHost: x\r\n\r\n");
    const quiet = [pushed, pulled];
    await waitFor(() => quiet.every((client) => client.received().includes("data: hello\n\n")), {
      what: "the first events",
    });

    const slow = await open("");
    void trickle(slow.socket, `GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ${"a".repeat(200)}`);
    const unfinished = await open("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    void trickle(unfinished.socket, "x".repeat(1000)); // 20 bytes a second: 50 s for the body
    const idle = await open("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => idle.received().includes('{"ok":true}'), { what: "the keep-alive answer" });

    const [slowClosed, unfinishedClosed, idleClosed] = await within(
      REQUEST_MS + SLACK_MS * 2,
      Promise.all([slow.closedAt, unfinished.closedAt, idle.closedAt]),
      "the three connections to be closed",
    );
    // Not cut early (half the deadline: a busy client may see events late, never early).
    expect(slowClosed - slow.openedAt).toBeGreaterThanOrEqual(HEADERS_MS / 2);
    expect(slowClosed - slow.openedAt).toBeLessThan(HEADERS_MS + SLACK_MS);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(slow.received()).toContain('{"error":"The request did not arrive in time"}');

    expect(unfinishedClosed - unfinished.openedAt).toBeGreaterThanOrEqual(REQUEST_MS / 2);
    expect(unfinishedClosed - unfinished.openedAt).toBeLessThan(REQUEST_MS + SLACK_MS);
    expect(unfinished.received()).toMatch(/^HTTP\/1\.1 408 /);
    // The handler's body stream errored: it did not wait for bytes that were never going to come.
    await waitFor(() => bodyErrors === 1, { what: "the upload's body to error" });

    expect(idle.received()).not.toContain("HTTP/1.1 408"); // between requests: closed, not answered
    expect(idleClosed - idle.lastDataAt()).toBeGreaterThanOrEqual(KEEP_ALIVE_MS / 2);
    expect(idleClosed - idle.lastDataAt()).toBeLessThan(KEEP_ALIVE_MS + SLACK_MS);

    // Quiet for longer than every deadline, the streams are open and still deliver.
    for (const client of quiet) expect(Date.now() - client.lastDataAt()).toBeGreaterThan(REQUEST_MS);
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
    source.consumer!.push("later");
    await waitFor(() => pushed.received().includes("data: later\n\n"), { what: "the later event" });
    for (const client of quiet) expect(client.socket.destroyed).toBe(false);
    expect(source.detached).toBe(0);
  });

  it("serve destroys the connection when the response body fails mid-stream", async () => {
    const errors: unknown[] = [];
    const server = await start(
      (request) =>
        new URL(request.url).pathname === "/ok"
          ? new Response("fine")
          : new Response(
              new ReadableStream({
                start(controller) {
                  controller.enqueue(new TextEncoder().encode("partial"));
                },
                pull(controller) {
                  controller.error(new Error("source broke"));
                },
              }),
            ),
      { onError: (error) => errors.push(error) },
    );
    // The client must never take the truncated body for a complete one.
    await expect(fetch(`${server.url}/broken`).then((response) => response.text())).rejects.toThrow();
    expect(String(errors[0])).toContain("source broke");
    expect(await (await fetch(`${server.url}/ok`)).text()).toBe("fine");
  });
});

describe("serve errors", () => {
  it("serve answers 500 JSON when the handler throws, rejects or returns a non-Response, and keeps serving", async () => {
    const errors: unknown[] = [];
    const server = await start(
      (request) => {
        const path = new URL(request.url).pathname;
        if (path === "/throw") throw new Error("boom");
        if (path === "/reject") return Promise.reject(new Error("async boom"));
        if (path === "/wrong") return "not a response" as unknown as Response;
        return new Response("ok");
      },
      { onError: (error) => errors.push(error) },
    );
    for (const path of ["/throw", "/reject", "/wrong"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(500);
      expect(response.headers.get("content-type")).toContain("application/json");
      expect(await response.json()).toEqual({ error: "The server failed to answer this request" });
    }
    expect(errors.map(String)).toEqual([
      expect.stringContaining("boom"),
      expect.stringContaining("async boom"),
      expect.stringContaining("not a Response"),
    ]);
    expect(await (await fetch(`${server.url}/fine`)).text()).toBe("ok");
  });

  it("serve accepts a Response from the undici package (another fetch implementation)", async () => {
    const server = await start(
      () => new UndiciResponse("from undici", { status: 202, headers: { "x-from": "undici" } }) as unknown as Response,
    );
    const response = await fetch(server.url);
    expect(response.status).toBe(202);
    expect(response.headers.get("x-from")).toBe("undici");
    expect(await response.text()).toBe("from undici");
  });

  it("serve answers 500 when Node refuses a response header", async () => {
    const server = await start(
      () => new Response("x", { status: 201, statusText: "Made", headers: { "x-name": "Ωmega" } }),
    );
    const response = await fetch(server.url);
    expect(response.status).toBe(500);
    expect(response.statusText).toBe("Internal Server Error");
    expect(response.headers.get("x-name")).toBeNull();
    expect(await response.json()).toEqual({ error: "The server failed to answer this request" });
  });

  it("serve rejects when the port is taken", async () => {
    const first = await start(() => new Response("ok"));
    await expect(serve(() => new Response("ok"), { port: first.port, host: "127.0.0.1" })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe("serve shutdown", () => {
  it("serve close() ends open event streams through request.signal and closes idle keep-alive sockets", async () => {
    const server = await serve(
      (request) =>
        new URL(request.url).pathname === "/events"
          ? eventStreamResponse(
              (async function* () {
                yield "open";
                await new Promise((resolve) => request.signal.addEventListener("abort", resolve, { once: true }));
              })(),
              { signal: request.signal },
            )
          : new Response("ok"),
      { port: 0, shutdownTimeoutMs: 10_000 },
    );
    expect(await (await fetch(`${server.url}/plain`)).text()).toBe("ok"); // leaves a keep-alive socket
    const streams = await Promise.all([1, 2, 3].map(() => fetch(`${server.url}/events`)));
    const texts = streams.map((response) => response.text());
    const started = Date.now();
    await within(5000, server.close(), "close() to resolve");
    expect(Date.now() - started).toBeLessThan(5000); // well before the 10 s cutoff
    expect(await Promise.all(texts)).toEqual(["data: open\n\n", "data: open\n\n", "data: open\n\n"]);
    await expect(fetch(`${server.url}/plain`)).rejects.toThrow();
  });

  it("serve close() cuts a response that ignores the signal after shutdownTimeoutMs", async () => {
    const server = await serve(
      () => new Response(new ReadableStream({ start: (c) => c.enqueue(new Uint8Array([104, 105])) })),
      {
        port: 0,
        shutdownTimeoutMs: 100,
      },
    );
    const response = await fetch(server.url);
    const body = response.text();
    await within(5000, server.close(), "close() to resolve");
    await expect(body).rejects.toThrow();
  });

  it("serve shuts down when its signal aborts", async () => {
    const controller = new AbortController();
    const server = await serve(() => new Response("ok"), { port: 0, signal: controller.signal });
    const closed = new Promise<void>((resolve) => server.server.once("close", () => resolve()));
    controller.abort();
    await within(5000, closed, "the server to close");
    expect(server.server.listening).toBe(false);
  });

  it("serve answers a request in flight during shutdown with Connection: close", async () => {
    const release = deferred();
    const arrived = deferred();
    const server = await start(async (request) => {
      if (new URL(request.url).pathname === "/slow") {
        arrived.resolve();
        await release.promise;
      }
      return new Response("ok");
    });
    const agentless = (path: string) =>
      new Promise<{ connection: string | undefined; body: string }>((resolve, reject) => {
        const req = httpRequest({ host: "127.0.0.1", port: server.port, path }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve({ connection: res.headers.connection, body }));
        });
        req.on("error", reject).end();
      });
    const slow = agentless("/slow");
    await within(5000, arrived.promise, "the request to reach the handler");
    const closing = server.close();
    release.resolve();
    expect(await slow).toEqual({ connection: "close", body: "ok" });
    await within(5000, closing, "close() to resolve");
  });
});

/** A push source under the test's control: `consumer` once started, `detached` once stopped. */
function pushSource() {
  const state = { consumer: undefined as PushConsumer | undefined, starts: 0, detached: 0 };
  return Object.assign(state, {
    [PUSH_SOURCE](consumer: PushConsumer) {
      state.starts++;
      state.consumer = consumer;
      return () => void state.detached++;
    },
  });
}

describe("serve direct event streams (push sources written to the socket)", () => {
  it("serve tells the handler it takes push streams, and gives the peer's address when asked", async () => {
    const seen: ConnectionInfo[] = [];
    const server = await start((_request, info) => {
      seen.push(info);
      return new Response(`${info.directStreams} ${info.remoteAddress}`);
    });
    expect(await (await fetch(`${server.url}/`)).text()).toBe("true 127.0.0.1");
    expect(seen[0]?.directStreams).toBe(true);
  });

  it("serve writes a direct stream as valid chunked coding: head, retry line, events as pushed; the client's leaving frees the source", async () => {
    const source = pushSource();
    const server = await start(() =>
      eventStreamResponse(source, { direct: true, retry: 1500, headers: { "x-room": "lobby" } }),
    );
    const raw = await rawRequest(server, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => source.consumer !== undefined, { what: "the stream to start" });
    source.consumer!.push({ id: "1", data: "one" });
    source.consumer!.push(new EncodedEvent({ data: "two" }));
    source.consumer!.push("");
    await waitFor(() => raw.received().includes("two"), { what: "the events" });
    const [head, body] = raw.received().split("\r\n\r\n", 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(head.toLowerCase()).toContain("content-type: text/event-stream; charset=utf-8");
    expect(head.toLowerCase()).toContain("x-room: lobby");
    expect(head.toLowerCase()).toContain("transfer-encoding: chunked");
    expect(dechunk(body)).toBe("retry: 1500\nid: 1\ndata: one\n\ndata: two\n\ndata: \n\n");
    raw.socket.destroy();
    await waitFor(() => source.detached === 1, { what: "the source to be freed" });
  });

  it("serve ends a direct stream with the last chunk when its source ends, and the connection serves the next request", async () => {
    const source = pushSource();
    const server = await start((request) =>
      new URL(request.url).pathname === "/next" ? new Response("next") : eventStreamResponse(source, { direct: true }),
    );
    const raw = await rawRequest(server, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => source.consumer !== undefined, { what: "the stream to start" });
    source.consumer!.push("bye");
    source.consumer!.end();
    await waitFor(() => raw.received().endsWith("0\r\n\r\n"), { what: "the last chunk" });
    expect(dechunk(raw.received().split("\r\n\r\n").slice(1).join("\r\n\r\n"))).toBe("data: bye\n\n");
    raw.socket.write("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => raw.received().endsWith("\r\n\r\n4\r\nnext\r\n0\r\n\r\n"), {
      what: "the next response on the same connection",
    });
  });

  it("serve frees a direct stream whose client left while the handler was still answering", async () => {
    const source = pushSource();
    const answering = deferred();
    const release = deferred();
    const server = await start(async () => {
      answering.resolve();
      await release.promise;
      return eventStreamResponse(source, { direct: true });
    });
    const raw = await rawRequest(server, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    await within(5000, answering.promise, "the handler");
    raw.socket.destroy();
    await raw.closed;
    await new Promise((resolve) => setTimeout(resolve, 50));
    release.resolve();
    await waitFor(() => source.detached === 1, { what: "the source to be freed" });
  });

  it("serve answers HEAD with a direct stream's head alone and frees its source", async () => {
    const source = pushSource();
    const server = await start(() => eventStreamResponse(source, { direct: true }));
    const response = await fetch(`${server.url}/events`, { method: "HEAD" });
    expect(response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(await response.text()).toBe("");
    await waitFor(() => source.detached === 1, { what: "the source to be freed" });
  });

  it("serve writes a direct stream to an HTTP/1.0 client unframed, closing the connection at its end", async () => {
    const source = pushSource();
    const server = await start(() => eventStreamResponse(source, { direct: true }));
    const raw = await rawRequest(server, "GET /events HTTP/1.0\r\n\r\n");
    await waitFor(() => source.consumer !== undefined, { what: "the stream to start" });
    source.consumer!.push("plain");
    source.consumer!.end();
    await within(5000, raw.closed, "the server to close the connection");
    const [head, body] = raw.received().split("\r\n\r\n", 2) as [string, string];
    expect(head.toLowerCase()).not.toContain("transfer-encoding");
    expect(body).toBe("data: plain\n\n");
  });

  it("serve sends a pipelined direct stream after the response before it, through the response", async () => {
    const source = pushSource();
    const release = deferred();
    const server = await start(async (request) => {
      if (new URL(request.url).pathname === "/slow") {
        await release.promise;
        return new Response("slow");
      }
      return eventStreamResponse(source, { direct: true });
    });
    const raw = await rawRequest(
      server,
      "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /events HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    await waitFor(() => source.consumer !== undefined, { what: "the stream to start" });
    source.consumer!.push("queued");
    release.resolve();
    await waitFor(() => raw.received().includes("queued"), { what: "the stream after the first response" });
    const answers = raw.received().split(/(?=HTTP\/1\.1 )/);
    expect(answers).toHaveLength(2);
    expect(dechunk(answers[0]!.split("\r\n\r\n")[1]!)).toBe("slow");
    expect(dechunk(answers[1]!.split("\r\n\r\n")[1]!)).toBe("data: queued\n\n");
  });

  it("serve ends a direct stream cleanly on shutdown, and one the handler made while shutdown began", async () => {
    const open = pushSource();
    const late = pushSource();
    const answering = deferred();
    const release = deferred();
    const server = await start(async (request) => {
      if (new URL(request.url).pathname === "/late") {
        answering.resolve();
        await release.promise;
        return eventStreamResponse(late, { direct: true });
      }
      return eventStreamResponse(open, { direct: true });
    });
    servers.splice(servers.indexOf(server), 1);
    const first = await rawRequest(server, "GET /open HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor(() => open.consumer !== undefined, { what: "the stream to start" });
    const second = await rawRequest(server, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n");
    await within(5000, answering.promise, "the late handler");
    const closed = server.close();
    release.resolve();
    await within(5000, Promise.all([closed, first.closed, second.closed]), "the server to close");
    expect(first.received().endsWith("0\r\n\r\n")).toBe(true);
    expect(second.received().endsWith("0\r\n\r\n")).toBe(true);
    expect([open.detached, late.detached]).toEqual([1, 1]);
  });
});

/** The body of a chunked response, decoded. */
function dechunk(body: string): string {
  let out = "";
  let at = 0;
  for (;;) {
    const line = body.indexOf("\r\n", at);
    if (line < 0) return out;
    const size = Number.parseInt(body.slice(at, line), 16);
    if (size === 0) return out;
    out += body.slice(line + 2, line + 2 + size);
    expect(body.slice(line + 2 + size, line + 4 + size)).toBe("\r\n");
    at = line + 4 + size;
  }
}
