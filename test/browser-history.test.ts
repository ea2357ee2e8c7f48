/**
 * The chat page's history in Chromium: a newcomer to a 300-message room pages back to its first
 * message ("load older" when scrolling to the top, `GET /rooms/:room/messages?before=&limit=`),
 * down to a start-of-history marker that tells a room kept whole from one whose oldest messages
 * were dropped; a page away longer than the history reaches gets a `reset` and shows what the
 * server keeps, with a plain notice where it begins; and no page ever shows a cache the server
 * does not have (a new tab, a reload after a restart). Screenshots in test-output/.
 *
 * @module
 */
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import { chatInChromium, describeBrowser, domIds, gotoRoom, OUTPUT, openChat, WAIT, waitForState } from "./_browser.ts";
import { tcpProxy } from "./_server.ts";

const HISTORY = 300;

describeBrowser("chat page history in Chromium [node]", () => {
  const chat = chatInChromium(["--rate-limit", "off", "--bot", "off", "--history", String(HISTORY)]);

  /** The texts of the messages on the page, in order. */
  function texts(page: Page): Promise<string[]> {
    return page.locator("#messages .msg[data-id] .text").allTextContents();
  }

  /** Scrolls to the top until the start-of-history marker shows; returns the page requests made. */
  async function pageToStart(page: Page): Promise<{ requests: URL[]; kept: boolean[] }> {
    const requests: URL[] = [];
    const onRequest = (request: { url(): string; method(): string }) => {
      const url = new URL(request.url());
      if (request.method() === "GET" && /^\/rooms\/[^/]+\/messages$/.test(url.pathname)) requests.push(url);
    };
    page.on("request", onRequest);
    const kept: boolean[] = []; // per load: the message that was on top stays where it was on screen
    for (let round = 0; round < 20; round++) {
      if ((await page.getAttribute("#messages .history-edge", "data-state")) === "done") break;
      const before = await page.evaluate(() => {
        const log = document.querySelector("#messages") as HTMLElement;
        log.scrollTop = 0; // as a reader scrolling up would
        const first = log.querySelector<HTMLElement>(".msg[data-id]") as HTMLElement;
        return { count: log.querySelectorAll(".msg[data-id]").length, id: first.dataset.id ?? "" };
      });
      await page.waitForFunction(
        (count) =>
          document.querySelectorAll("#messages .msg[data-id]").length > count ||
          document.querySelector("#messages .history-edge")?.getAttribute("data-state") === "done",
        before.count,
        WAIT,
      );
      kept.push(
        await page.evaluate((id) => {
          const log = document.querySelector("#messages") as HTMLElement;
          const item = log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`) as HTMLElement;
          // It was at the top of the view (scrollTop 0, below the marker); it is still in view.
          const top = item.getBoundingClientRect().top - log.getBoundingClientRect().top;
          return top >= 0 && top < log.clientHeight;
        }, before.id),
      );
    }
    page.off("request", onRequest);
    return { requests, kept };
  }

  it("a newcomer sees the last 50 of 300 messages, then pages back to the first one", async () => {
    const room = "three-hundred";
    const ids = await chat.api.postMany(room, "민수", 300, "message ");
    const { page } = await openChat(chat.browser, chat.server.url, chat.problems, { name: "Ann", room });
    await page.waitForFunction(
      () => document.querySelectorAll("#messages .msg[data-id]").length === 50,
      undefined,
      WAIT,
    );
    expect((await domIds(page)).ids).toEqual(ids.slice(-50));
    // At the bottom: the newest message is in view.
    expect(
      await page.evaluate(() => {
        const log = document.querySelector("#messages") as HTMLElement;
        return log.scrollHeight - log.scrollTop - log.clientHeight;
      }),
    ).toBeLessThan(2);

    const { requests, kept } = await pageToStart(page);
    const shown = await domIds(page);
    expect(shown.duplicates).toEqual([]);
    expect(shown.ids).toEqual(ids);
    expect(await texts(page)).toEqual(ids.map((_, i) => `message ${i + 1}`));
    expect(await page.textContent("#messages .history-edge")).toBe("This is the start of the room");
    // Each request asked for the page just before the oldest message shown, 50 at a time.
    expect(requests.length).toBe(5);
    expect(requests.map((url) => url.searchParams.get("before"))).toEqual([250, 200, 150, 100, 50].map((n) => ids[n]));
    expect(requests.every((url) => url.searchParams.get("limit") === "50")).toBe(true);
    expect(kept.every(Boolean), `kept in view per load: ${kept.join(",")}`).toBe(true);
    // One author, minutes apart at most: one group, one day separator, the name shown once.
    expect(await page.locator("#messages .day").count()).toBe(1);
    expect(await page.locator("#messages .msg:not(.cont)").count()).toBe(1);
    await page.evaluate(() => {
      (document.querySelector("#messages") as HTMLElement).scrollTop = 0;
    });
    await page.screenshot({ path: `${OUTPUT}history-start-of-room.png` });
    await page.context().close();
  });

  it("says older messages are no longer kept when the server dropped the oldest", async () => {
    const room = "trimmed";
    const ids = await chat.api.postMany(room, "Ann", HISTORY + 40, "old ");
    const { page } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "민수",
      room,
      locale: "ko-KR",
    });
    await page.waitForFunction(
      () => document.querySelectorAll("#messages .msg[data-id]").length === 50,
      undefined,
      WAIT,
    );
    await pageToStart(page);
    const shown = await domIds(page);
    expect(shown.ids).toEqual(ids.slice(-HISTORY)); // every message the server keeps, nothing else
    expect(await page.textContent("#messages .history-edge")).toBe("이보다 오래된 메시지는 보관되지 않아요");
    await page.context().close();
  });

  it("away longer than the history reaches: a reset, the kept history, and a notice where it begins", async () => {
    const room = "away";
    const proxy = await tcpProxy(chat.server.url);
    try {
      const context = await chat.browser.newContext({ locale: "en-US" });
      const page = await context.newPage();
      chat.problems.watch(page, "away");
      await gotoRoom(page, proxy.url, room);
      await page.fill("#name", "Ann");
      await page.press("#name", "Enter");
      await waitForState(page, "live");
      const first = await chat.api.post(room, "민수", "before the gap");
      await page.waitForSelector(`#messages .msg[data-id="${first.id}"]`, WAIT);

      // The network goes away; meanwhile the room moves on past what the server keeps.
      proxy.hold();
      proxy.cut();
      await waitForState(page, "reconnecting");
      const ids = await chat.api.postMany(room, "민수", HISTORY + 20, "while away ");
      proxy.release();
      await waitForState(page, "live");

      await page.waitForFunction(
        (count) => document.querySelectorAll("#messages .msg[data-id]").length === count,
        HISTORY,
        WAIT,
      );
      const shown = await domIds(page);
      expect(shown.ids).toEqual(ids.slice(-HISTORY));
      expect(shown.ids).not.toContain(first.id); // what the server no longer has is gone from the page
      const top = await page.evaluate(() =>
        [...document.querySelectorAll("#messages > li:not([hidden])")]
          .slice(0, 2)
          .map((item) => `${item.className}: ${item.textContent}`),
      );
      expect(top[0]).toBe(
        "notice history-start: You were away longer than this room keeps messages, so some are no longer available. The conversation continues from here.",
      );
      expect(top[1]).toMatch(/^day: /);
      expect(await page.locator("#messages .notice").count()).toBe(1);
      await context.close();
    } finally {
      await proxy.close();
    }
  });

  it("shows no cache: a new tab shows the server's history, and after a restart a reload shows only the new server's", async () => {
    const room = "no-cache";
    const ids = await chat.api.postMany(room, "민수", 3, "kept ");
    const { page, context } = await openChat(chat.browser, chat.server.url, chat.problems, { name: "Ann", room });
    await page.waitForFunction(
      () => document.querySelectorAll("#messages .msg[data-id]").length === 3,
      undefined,
      WAIT,
    );
    expect((await domIds(page)).ids).toEqual(ids);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("eddy.log.")))).toEqual(
      [],
    );

    // A second tab of the same person (same storage) shows what the server has, no more, no less.
    const tab = await context.newPage();
    chat.problems.watch(tab, "second tab");
    await gotoRoom(tab, chat.server.url, room);
    await waitForState(tab, "live"); // the name was remembered: straight back in
    await tab.waitForFunction(() => document.querySelectorAll("#messages .msg[data-id]").length === 3, undefined, WAIT);
    expect((await domIds(tab)).ids).toEqual(ids);
    await tab.close();

    // The server restarts (in memory: everything is gone); the page is reloaded.
    const port = new URL(chat.server.url).port;
    await chat.restart(["--rate-limit", "off", "--bot", "off", "--port", port]);
    await page.reload();
    await waitForState(page, "live");
    await page.waitForFunction(
      () => document.querySelector("#messages .history-edge")?.getAttribute("data-state") === "done",
      undefined,
      WAIT,
    );
    expect((await domIds(page)).ids).toEqual([]);
    expect(await page.textContent("#messages .history-edge")).toBe("This is the start of the room");
    expect(await page.isVisible("#empty")).toBe(true);
    expect(await page.textContent("#empty")).toBe("No messages yet. Say hi!");
    await page.screenshot({ path: `${OUTPUT}history-after-restart-reload.png` });
    await context.close();
  });

  it("raised no page errors, dialogs or CSP violations", () => {
    expect(chat.problems.list).toEqual([]);
  });
});
