/**
 * Shared helpers for the Chromium tests of the chat page (test/browser*.test.ts): launching
 * Debian's Chromium (never a downloaded browser), opening the page as a new user would (name,
 * room, Join), watching for page errors and CSP violations, and waiting for conditions with
 * deadlines instead of sleeping.
 *
 * @module
 */
import { existsSync, mkdirSync } from "node:fs";
import process from "node:process";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { ROOT, RUNTIMES, type RunningServer, type Runtime, startServer } from "./_server.ts";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-quic",
  "--disable-sync",
];
export const OUTPUT = `${ROOT}test-output/`;
export const WAIT = { timeout: 10_000 };

const skip = process.env.EDDY_SKIP_BROWSER === "1";
const missing = !skip && !existsSync(CHROMIUM);

/** Viewports as new users bring them. */
const DESKTOP: BrowserContextOptions = { viewport: { width: 1280, height: 800 } };
export const PHONE: BrowserContextOptions = {
  viewport: { width: 390, height: 844 },
  isMobile: true,
  hasTouch: true,
  deviceScaleFactor: 2,
};

/**
 * `describe` for a Chromium suite: a missing browser is a failing test with the fix in its
 * message, never a silent skip (unless EDDY_SKIP_BROWSER=1).
 */
export function describeBrowser(name: string, fn: () => void): void {
  describe.runIf(missing)(name, () => {
    it("needs Debian's Chromium", () => {
      throw new Error(
        `The browser test needs Debian's Chromium at ${CHROMIUM}: install it with ` +
          "`apt-get update && apt-get install -y chromium`, or set EDDY_SKIP_BROWSER=1 to skip this suite.",
      );
    });
  });
  describe.skipIf(skip || missing)(name, fn);
}

export function launchBrowser(): Promise<Browser> {
  mkdirSync(OUTPUT, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A suite's chat server and Chromium; see {@link chatInChromium}. */
export type ChatInChromium = {
  readonly server: RunningServer;
  readonly browser: Browser;
  /** A client of the server's API with a session of its own. */
  readonly api: ApiClient;
  readonly problems: Problems;
  /** Stops the server (SIGTERM) and starts it again with `args` (e.g. its old `--port`). */
  restart(args: readonly string[]): Promise<void>;
};

/**
 * The chat server on Node with `args`, and Debian's Chromium, started before the tests of the
 * suite it is called in and stopped after them.
 */
export function chatInChromium(args: readonly string[]): ChatInChromium {
  const runtime = RUNTIMES.find((candidate) => candidate.name === "node") as Runtime;
  let server: RunningServer | undefined;
  let browser: Browser | undefined;
  let api: ApiClient | undefined;
  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(runtime, args), launchBrowser()]);
    api = new ApiClient(server.url);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get browser() {
      return browser!;
    },
    get api() {
      return api!;
    },
    problems: new Problems(),
    async restart(next) {
      await server?.stop("SIGTERM");
      server = await startServer(runtime, next);
      api = new ApiClient(server.url);
    },
  };
}

/** Page errors, dialogs and CSP violations of every page watched, to assert none at the end. */
export class Problems {
  readonly list: string[] = [];

  watch(page: Page, label: string): void {
    page.on("pageerror", (error) => this.list.push(`${label}: page error: ${error.message}`));
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) this.list.push(`${label}: ${message.text()}`);
    });
    page.on("dialog", (dialog) => {
      this.list.push(`${label}: unexpected dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }
}

export type OpenOptions = {
  /** The name typed before pressing Join; omit to stay on the join step. */
  name?: string;
  room: string;
  /** navigator.languages[0], e.g. "ko-KR" (default "en-US"). */
  locale?: string;
  context?: BrowserContextOptions;
};

/** A new browser context (its own localStorage and cookies) on the page, joined as `name`. */
export async function openChat(
  browser: Browser,
  url: string,
  problems: Problems,
  options: OpenOptions,
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ ...DESKTOP, locale: options.locale ?? "en-US", ...options.context });
  const page = await context.newPage();
  problems.watch(page, options.name ?? options.room);
  await gotoRoom(page, url, options.room);
  if (options.name !== undefined) await join(page, options.name);
  return { page, context };
}

export async function gotoRoom(page: Page, url: string, room: string): Promise<void> {
  await page.goto(`${url}/?room=${encodeURIComponent(room)}`);
}

/** The join step: name, then Enter (the room came from the address). */
async function join(page: Page, name: string): Promise<void> {
  await page.fill("#name", name);
  await page.press("#name", "Enter");
  await page.waitForSelector('#status[data-state="live"]', WAIT);
}

/** Types `text` into the composer and sends it with Enter. */
export async function say(page: Page, text: string): Promise<void> {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

export type MessageFacts = {
  id: string;
  author: string;
  tag: string;
  own: boolean;
  left: number;
  right: number;
  logLeft: number;
  logRight: number;
  whiteSpace: string;
  datetime: string;
  time: string;
};

/** Waits until a finished message with exactly `text` is on `page`, and returns its facts. */
export async function waitForMessage(page: Page, text: string): Promise<MessageFacts> {
  await page.waitForFunction(
    (wanted) =>
      [...document.querySelectorAll("#messages .msg[data-id]")].some(
        (item) => item.querySelector(".text")?.textContent === wanted,
      ),
    text,
    WAIT,
  );
  return page.evaluate((wanted) => {
    const item = [...document.querySelectorAll<HTMLElement>("#messages .msg[data-id]")].find(
      (candidate) => candidate.querySelector(".text")?.textContent === wanted,
    ) as HTMLElement;
    const tag = item.querySelector<HTMLElement>(".author-tag");
    const box = item.getBoundingClientRect();
    const log = document.querySelector("#messages") as HTMLElement;
    const logBox = log.getBoundingClientRect();
    const logStyle = getComputedStyle(log);
    return {
      id: item.dataset.id ?? "",
      author: item.querySelector(".author")?.textContent ?? "",
      tag: tag && !tag.hidden ? (tag.textContent ?? "") : "",
      own: item.classList.contains("own"),
      left: box.left,
      right: box.right,
      logLeft: logBox.left + Number.parseFloat(logStyle.paddingLeft),
      logRight: logBox.left + log.clientWidth - Number.parseFloat(logStyle.paddingRight),
      whiteSpace: getComputedStyle(item.querySelector(".text") as Element).whiteSpace,
      datetime: item.querySelector("time")?.getAttribute("datetime") ?? "",
      time: item.querySelector("time")?.textContent ?? "",
    };
  }, text);
}

export async function waitForState(page: Page, state: string): Promise<void> {
  await page.waitForSelector(`#status[data-state="${state}"]`, WAIT);
}

/** Every message id in the DOM, in order, and every id that appears more than once. */
export async function domIds(page: Page): Promise<{ ids: string[]; duplicates: string[] }> {
  return page.evaluate(() => {
    const ids = [...document.querySelectorAll<HTMLElement>("#messages .msg[data-id]")].map(
      (item) => item.dataset.id ?? "",
    );
    return { ids, duplicates: ids.filter((id, index) => ids.indexOf(id) !== index) };
  });
}

/** A client of the chat API that keeps its session cookie, like one person posting from curl. */
export class ApiClient {
  #cookie = "";
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  async post(room: string, user: string, text: string): Promise<{ id: string; userId: string }> {
    const response = await fetch(`${this.url}/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(this.#cookie ? { cookie: this.#cookie } : {}) },
      body: JSON.stringify({ user, text }),
    });
    const setCookie = response.headers.get("set-cookie");
    if (setCookie) this.#cookie = setCookie.split(";")[0] as string;
    if (response.status !== 201) throw new Error(`POST ${room}: ${response.status} ${await response.text()}`);
    return (await response.json()) as { id: string; userId: string };
  }

  /** Posts `count` messages `${prefix}${i}` (i from 1), one after another; returns their ids. */
  async postMany(room: string, user: string, count: number, prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 1; i <= count; i++) ids.push((await this.post(room, user, `${prefix}${i}`)).id);
    return ids;
  }
}

/** Makes the page believe its tab is hidden (or visible again), as a real tab switch would. */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((value) => {
    Object.defineProperty(document, "visibilityState", {
      configurable: true,
      get: () => (value ? "hidden" : "visible"),
    });
    Object.defineProperty(document, "hidden", { configurable: true, get: () => value });
    document.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}
