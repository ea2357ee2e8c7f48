/**
 * The chat page open in several tabs of one browser, in Chromium: the tabs of a room share one
 * event stream (a Web Lock elects the tab that holds it, a BroadcastChannel carries its events to
 * the others), so a seventh tab never waits for one of HTTP/1.1's six connections. A tab opened
 * later shows the history, the live messages and a bot reply still growing; closing the tab that
 * holds the stream hands it to the next, which resumes after the last id it showed, with nothing
 * lost or shown twice; tabs in different rooms keep a stream each.
 *
 * @module
 */
import type { Page } from "playwright-core";
import { expect, it } from "vitest";
import {
  chatInChromium,
  describeBrowser,
  domIds,
  gotoRoom,
  openChat,
  say,
  WAIT,
  waitForMessage,
  waitForState,
} from "./_browser.ts";
import { waitFor } from "./_server.ts";

describeBrowser("chat page in several tabs in Chromium [node]", () => {
  const chat = chatInChromium(["--rate-limit", "off", "--bot", "typewriter", "--typewriter-ms", "60"]);

  /** The server's count of open room streams, over every room. */
  async function streams(): Promise<number> {
    return ((await (await fetch(`${chat.server.url}/healthz`)).json()) as { subscribers: number }).subscribers;
  }

  /** The room's stored message ids, oldest first, as the server has them. */
  async function stored(room: string): Promise<string[]> {
    const response = await fetch(`${chat.server.url}/rooms/${encodeURIComponent(room)}/messages?limit=200`);
    return ((await response.json()) as { messages: { id: string }[] }).messages.map((message) => message.id);
  }

  /** Waits until `page` shows exactly `ids`, in order, none twice. */
  async function untilShows(page: Page, ids: readonly string[], what: string): Promise<void> {
    await waitFor(
      async () => {
        const shown = await domIds(page);
        return shown.duplicates.length === 0 && shown.ids.join() === ids.join();
      },
      { what: `${what} to show ${ids.length} messages in order` },
    );
  }

  it("a later tab shares the room's stream and shows the history, the live messages and the reply still growing", async () => {
    const room = "tabs";
    const before = await chat.api.postMany(room, "민수", 3, "before ");
    const { page: first, context } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "Ann",
      room,
    });
    await untilShows(first, before, "the first tab");
    expect(await streams()).toBe(1);

    // A reply that takes seconds to type out is growing when the second tab opens.
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
    await chat.api.post(room, "민수", `/bot echo ${words}`);
    await first.waitForSelector("#messages .msg.streaming", WAIT);
    const second = await context.newPage();
    chat.problems.watch(second, "second tab");
    await gotoRoom(second, chat.server.url, room);
    await waitForState(second, "live"); // the name was remembered: straight back in, as a follower
    const growing = await second.waitForSelector("#messages .msg.streaming", WAIT);
    expect(await growing.textContent()).toContain("w0 w1 w2");
    expect(await streams()).toBe(1); // two tabs, one stream

    // Both end with what the server stored: the history, the question and the finished reply.
    await first.waitForSelector("#messages .msg.bot[data-id]", { timeout: 20_000 });
    const all = await stored(room);
    expect(all).toHaveLength(5);
    await untilShows(first, all, "the first tab");
    await untilShows(second, all, "the second tab");
    expect(await second.textContent("#messages .msg.bot[data-id] .text")).toBe(words);

    // The second tab posts; both show it, and the second marks it as its own.
    const request = second.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/messages"));
    await say(second, "from the second tab");
    // Each message carries its own key, kept across retries: a post whose answer is lost is stored once.
    expect((await request).headers()["idempotency-key"]).toMatch(/^[0-9a-f]{32}$/);
    const mine = await waitForMessage(second, "from the second tab");
    expect(mine.own).toBe(true);
    expect((await waitForMessage(first, "from the second tab")).id).toBe(mine.id);
    expect(await second.textContent("#people-count")).toBe(await first.textContent("#people-count"));
    await context.close();
  });

  it("closing the tab that holds the stream hands it to the next, which resumes without a gap", async () => {
    const room = "handover";
    const { page: first, context } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "Ann",
      room,
    });
    const second = await context.newPage();
    chat.problems.watch(second, "second tab");
    await gotoRoom(second, chat.server.url, room);
    await waitForState(second, "live");
    const early = [(await chat.api.post(room, "민수", "early")).id];
    await untilShows(second, early, "the second tab");
    expect(await streams()).toBe(1);

    // Posts while the first tab goes and the second opens its own stream.
    await first.close();
    const meanwhile = await chat.api.postMany(room, "민수", 5, "meanwhile ");
    await untilShows(second, [...early, ...meanwhile], "the tab that took over");
    await waitForState(second, "live");
    await waitFor(async () => (await streams()) === 1, { what: "one stream again, the second tab's" });
    const later = (await chat.api.post(room, "민수", "later")).id;
    await untilShows(second, [...early, ...meanwhile, later], "the tab that took over");

    // A tab in another room keeps a stream of its own.
    const third = await context.newPage();
    chat.problems.watch(third, "third tab");
    await gotoRoom(third, chat.server.url, "elsewhere");
    await waitForState(third, "live");
    expect(await streams()).toBe(2);
    await context.close();
    await waitFor(async () => (await streams()) === 0, { what: "every stream closed with the tabs" });
  });

  it("eight tabs of one room are all live on one connection, where HTTP/1.1 would let six connect", async () => {
    const room = "crowded";
    const { page: first, context } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "Ann",
      room,
    });
    const tabs = [first];
    for (let i = 1; i < 8; i++) {
      const tab = await context.newPage();
      chat.problems.watch(tab, `tab ${i + 1}`);
      await gotoRoom(tab, chat.server.url, room);
      tabs.push(tab);
    }
    for (const tab of tabs) await waitForState(tab, "live");
    expect(await streams()).toBe(1);
    const id = (await chat.api.post(room, "민수", "to every tab")).id;
    for (const tab of tabs) expect((await waitForMessage(tab, "to every tab")).id).toBe(id);
    await context.close();
  });

  it("a room the server refuses says why in every tab, the ones that only wait on the stream too", async () => {
    const room = "\u3164"; // a Hangul filler: a letter that shows nothing, which only the server refuses
    const refused = await fetch(`${chat.server.url}/rooms/${encodeURIComponent(room)}/events`);
    const { error } = (await refused.json()) as { error: string };
    const { page: first, context } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "Ann",
      room: "lobby",
    });
    const second = await context.newPage();
    chat.problems.watch(second, "second tab");
    await gotoRoom(second, chat.server.url, room);
    await first.fill("#room", room); // the first tab follows it there: now the second holds the stream
    await first.press("#room", "Enter");
    for (const tab of [first, second]) {
      await tab.waitForSelector("#error:not([hidden])", WAIT);
      expect(await tab.textContent("#error")).toBe(`This room cannot be opened: ${error}`);
      expect(await tab.isHidden("#offline")).toBe(true); // not a connection problem
    }
    await context.close();
  });

  it("raised no page errors, dialogs or CSP violations", () => {
    expect(chat.problems.list).toEqual([]);
  });
});
