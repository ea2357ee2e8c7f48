/**
 * The chat page through outages in Chromium: the server is killed mid-reply and restarted on the
 * same port. The page first says "reconnecting", then, after a few seconds without a connection,
 * shows a clear offline state; the bot's caret stops; a message written meanwhile waits visibly and
 * goes out once the connection is back; then everything is cleared and shown once. A post that
 * cannot reach the server is kept, visibly, and sent when it can be. Screenshots in test-output/.
 *
 * @module
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  describeBrowser,
  domIds,
  launchBrowser,
  OUTPUT,
  openChat,
  PHONE,
  Problems,
  say,
  WAIT,
  waitForMessage,
  waitForState,
} from "./_browser.ts";
import { RUNTIMES, startServer, tcpProxy, waitFor, type RunningServer, type Runtime } from "./_server.ts";

const ROOM = "outage";
// A slow typewriter: the reply is still streaming when the server is killed.
const SERVER_ARGS = ["--rate-limit", "off", "--bot", "typewriter", "--typewriter-ms", "150"];

describeBrowser("chat page through outages in Chromium [node]", () => {
  const runtime = RUNTIMES.find((candidate) => candidate.name === "node") as Runtime;
  let server: RunningServer;
  let browser: Browser;
  let ann: Page; // desktop
  let minsu: Page; // phone, Korean
  const problems = new Problems();

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(runtime, SERVER_ARGS), launchBrowser()]);
    [ann, minsu] = await Promise.all([
      openChat(browser, server.url, problems, { name: "Ann", room: ROOM }).then(({ page }) => page),
      openChat(browser, server.url, problems, { name: "민수", room: ROOM, locale: "ko-KR", context: PHONE }).then(
        ({ page }) => page,
      ),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  it("killed mid-reply: reconnecting, then offline; the caret stops; a message waits; all recovers once back", async () => {
    await say(ann, "before the outage");
    await waitForMessage(minsu, "before the outage");
    await say(ann, "/bot help");
    for (const page of [ann, minsu]) {
      await page.waitForFunction(
        () => (document.querySelector("#messages .msg.bot.streaming .text")?.textContent?.length ?? 0) > 0,
        undefined,
        WAIT,
      );
    }

    const port = new URL(server.url).port;
    await server.stop("SIGKILL"); // no goodbye: the reply never gets its final message
    await Promise.all([waitForState(ann, "reconnecting"), waitForState(minsu, "reconnecting")]);
    for (const page of [ann, minsu]) {
      // The stream dropped: the reply is no longer shown as arriving.
      expect(await page.locator("#messages .msg.bot.streaming").count()).toBe(0);
      expect(await page.locator("#messages .msg.bot.interrupted").count()).toBe(1);
      const caret = await page.evaluate(
        () => getComputedStyle(document.querySelector("#messages .msg.bot .text") as Element, "::after").content,
      );
      expect(caret).toBe("none");
    }
    expect(await ann.isHidden("#offline")).toBe(true); // a blip is not "offline" yet

    // A few seconds without a connection: a clear offline state, in the page's language.
    await Promise.all([waitForState(ann, "offline"), waitForState(minsu, "offline")]);
    expect(await ann.isVisible("#offline")).toBe(true);
    expect(await ann.textContent("#offline-text")).toBe(
      "Connection lost. Reconnecting… Messages you send will go out once it is back.",
    );
    expect(await minsu.textContent("#status")).toContain("오프라인");
    expect(await minsu.textContent("#offline-text")).toContain("연결이 끊겼어요");

    // Writing while offline: the message waits, visibly, and the box is free for the next one.
    const posts: string[] = [];
    minsu.on("request", (request) => {
      if (request.method() === "POST" && request.url().endsWith("/messages")) posts.push(request.url());
    });
    await say(minsu, "오프라인일 때 쓴 메시지");
    await minsu.waitForSelector("#messages .msg.pending", WAIT);
    expect(await minsu.textContent("#messages .msg.pending .text")).toBe("오프라인일 때 쓴 메시지");
    expect(await minsu.textContent("#messages .msg.pending .pending-label")).toBe("연결을 기다리는 중…");
    expect(await minsu.inputValue("#text")).toBe("");
    expect(posts).toEqual([]); // nothing was tried while offline
    await minsu.screenshot({ path: `${OUTPUT}outage-offline-phone.png` });
    await minsu.emulateMedia({ colorScheme: "dark" });
    await minsu.screenshot({ path: `${OUTPUT}outage-offline-phone-dark.png` });
    await minsu.emulateMedia({ colorScheme: "light" });
    await ann.screenshot({ path: `${OUTPUT}outage-offline-desktop.png` });

    // The server is back on the same port (in memory: a new life, so the pages get a reset).
    server = await startServer(runtime, [...SERVER_ARGS, "--port", port]);
    await Promise.all([waitForState(ann, "live"), waitForState(minsu, "live")]);
    const sent = await waitForMessage(ann, "오프라인일 때 쓴 메시지");
    expect(sent).toMatchObject({ author: "민수", own: false });
    expect(await waitForMessage(minsu, "오프라인일 때 쓴 메시지")).toMatchObject({ author: "민수", own: true });
    await minsu.waitForFunction(() => document.querySelector("#messages .msg.pending") === null, undefined, WAIT);
    expect(posts).toHaveLength(1);
    for (const page of [ann, minsu]) {
      expect(await page.isHidden("#offline")).toBe(true);
      expect(await page.isHidden("#error")).toBe(true);
      const { ids, duplicates } = await domIds(page);
      expect(duplicates).toEqual([]);
      expect(ids).toEqual([sent.id]); // what the new server has: the old life is gone, and said so
      expect(await page.locator("#messages .notice.history-start").count()).toBe(1);
      expect(await page.locator("#messages .msg.bot").count()).toBe(0);
    }
    expect(await ann.textContent("#messages .notice")).toBe(
      "Earlier messages are no longer available. The conversation continues from here.",
    );
    await minsu.screenshot({ path: `${OUTPUT}outage-recovered-phone.png` });
  });

  it("a post that cannot reach the server is kept, visibly, and sent once it can be", async () => {
    await waitForState(ann, "live");
    // The stream stays up; only posts fail at the network level (as on a flaky link).
    await ann.route("**/rooms/*/messages", (route) =>
      route.request().method() === "POST" ? route.abort("internetdisconnected") : route.fallback(),
    );
    await say(ann, "through a flaky link");
    await ann.waitForSelector("#messages .msg.pending", WAIT);
    expect(await ann.textContent("#error")).toBe(
      "Could not reach the server. Your message will be sent once the connection is back.",
    );
    expect(await ann.textContent("#messages .msg.pending .text")).toBe("through a flaky link");

    // Cancel gives the text back to the composer.
    await say(ann, "second try");
    await ann.waitForFunction(() => document.querySelectorAll("#messages .msg.pending").length === 2, undefined, WAIT);
    await ann.locator("#messages .msg.pending").nth(1).locator(".pending-button").click();
    expect(await ann.inputValue("#text")).toBe("second try");
    await ann.fill("#text", "");

    // The link comes back: the queued message goes out (retried every 2 s), the error goes.
    await ann.unroute("**/rooms/*/messages");
    const shown = await waitForMessage(minsu, "through a flaky link");
    expect(shown.author).toBe("Ann");
    await ann.waitForFunction(
      () =>
        document.querySelector("#messages .msg.pending") === null &&
        document.querySelector<HTMLElement>("#error")?.hidden,
      undefined,
      WAIT,
    );
    const texts = await ann.locator("#messages .msg[data-id] .text").allTextContents();
    expect(texts.filter((text) => text === "through a flaky link")).toHaveLength(1);
    expect(texts).not.toContain("second try");
  });

  it("Enter pressed again while the message is still on its way sends it once", async () => {
    await waitForState(ann, "live");
    // The post is held until the second Enter has been pressed (a slow link, made exact).
    let letGo!: () => void;
    const held = new Promise<void>((resolve) => (letGo = resolve));
    let posts = 0;
    await ann.route("**/rooms/*/messages", async (route) => {
      if (route.request().method() !== "POST") return route.fallback();
      posts++;
      await held;
      await route.fallback();
    });
    await say(ann, "only once");
    await ann.waitForFunction(() => document.querySelector<HTMLButtonElement>("#send")?.disabled === true);
    await ann.press("#text", "Enter"); // impatient: the text is still in the box while it is sent
    letGo();
    await waitForMessage(minsu, "only once");
    await ann.waitForFunction(() => (document.querySelector("#text") as HTMLTextAreaElement).value === "");
    await say(ann, "and then this");
    await waitForMessage(minsu, "and then this");
    const texts = await minsu.locator("#messages .msg[data-id] .text").allTextContents();
    expect(texts.filter((text) => text === "only once")).toHaveLength(1);
    expect(posts).toBe(2); // "only once", then "and then this"
    await ann.unroute("**/rooms/*/messages");
  });

  it("a post whose answer is lost on the way back is retried with its key and shown once, never twice", async () => {
    // The page reaches the server through a proxy that loses the next POST's answer after the
    // server stored the message: the page sees a network error, keeps the message and retries it.
    const proxy = await tcpProxy(server.url);
    try {
      const { page: bo, context } = await openChat(browser, proxy.url, problems, { name: "Bo", room: ROOM });
      proxy.loseNextAnswer(`POST /rooms/${ROOM}/messages `);
      await say(bo, "said once");
      await waitFor(() => proxy.lostAnswers() === 1, { what: "the answer to be lost" });
      const shown = await waitForMessage(bo, "said once");
      await bo.waitForFunction(() => document.querySelector("#messages .msg.pending") === null, undefined, WAIT);
      const sentinel = await waitForMessage(minsu, "said once");
      expect(sentinel.id).toBe(shown.id);
      await say(ann, "after it"); // everything before this is on every page now
      for (const page of [bo, ann, minsu]) {
        await waitForMessage(page, "after it");
        const texts = await page.locator("#messages .msg[data-id] .text").allTextContents();
        expect(texts.filter((text) => text === "said once")).toHaveLength(1);
      }
      const stored = (await (await fetch(`${server.url}/rooms/${ROOM}/messages?limit=200`)).json()) as {
        messages: { text: string }[];
      };
      expect(stored.messages.filter((m) => m.text === "said once")).toHaveLength(1);
      await context.close();
    } finally {
      await proxy.close();
    }
  });

  it("raised no page errors, dialogs or CSP violations", () => {
    expect(problems.list).toEqual([]);
  });
});
