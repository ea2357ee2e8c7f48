/**
 * End-to-end: the chat page (web/) in Debian's headless Chromium against the real Node server.
 *
 * Two people (two browser contexts, so separate localStorage) join one room and chat; a bot reply
 * streams in; hostile text stays text; the server restarts on the same port and both pages come
 * back live showing only what the new server has, without showing anything twice. Screenshots go
 * to test-output/. The other browser-*.test.ts files cover history paging, outages, the page's
 * languages and layout, and rendering speed; test/_browser.ts holds what they share.
 *
 * Needs /usr/bin/chromium (`apt-get install chromium`); never downloads a browser. Without it the
 * suite fails, unless EDDY_SKIP_BROWSER=1. No sleeps: every wait is a condition with a deadline.
 *
 * @module
 */
import { createServer } from "node:net";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  ApiClient,
  describeBrowser,
  domIds,
  launchBrowser,
  OUTPUT,
  openChat,
  PHONE,
  Problems,
  say,
  waitForMessage,
  WAIT,
  waitForState,
} from "./_browser.ts";
import { ROOT, RUNTIMES, startServer, type RunningServer, type Runtime, waitFor } from "./_server.ts";

const ROOM = "e2e-room";
// A slow enough typewriter that the reply visibly grows over several chunks, still well under 1 s.
const SERVER_ARGS = ["--bot", "typewriter", "--typewriter-ms", "25"];

describeBrowser("chat page in Chromium [node]", () => {
  const runtime = RUNTIMES.find((candidate) => candidate.name === "node") as Runtime;
  let server: RunningServer;
  let browser: Browser;
  let alice: Page; // desktop viewport
  let bob: Page; // phone viewport
  const problems = new Problems(); // page errors and CSP violations, from either page

  beforeAll(async () => {
    [server, browser] = await Promise.all([startServer(runtime, SERVER_ARGS), launchBrowser()]);
    [alice, bob] = await Promise.all([
      openChat(browser, server.url, problems, { name: "alice", room: ROOM }).then(({ page }) => page),
      openChat(browser, server.url, problems, {
        name: "bob",
        room: ROOM,
        context: { ...PHONE, viewport: { width: 375, height: 740 } },
      }).then(({ page }) => page),
    ]);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Own messages sit at the log's right edge, everyone else's at its left edge. */
  function expectSide(facts: { left: number; right: number; logLeft: number; logRight: number }, side: string) {
    if (side === "right") expect(Math.abs(facts.right - facts.logRight)).toBeLessThan(1.5);
    else expect(Math.abs(facts.left - facts.logLeft)).toBeLessThan(1.5);
  }

  it("connects live, and two people see each other's messages with the right author", async () => {
    await Promise.all([waitForState(alice, "live"), waitForState(bob, "live")]);
    expect(await alice.textContent("#status")).toContain("live");
    // Who is here: the count and both names (each page joined with ?user=<name>).
    await alice.waitForFunction(
      () =>
        document.querySelector("#people-count")?.textContent === "2 people here" &&
        [...document.querySelectorAll("#people-list li")].map((item) => item.textContent).join("|") ===
          "alice (you)|bob",
      undefined,
      WAIT,
    );

    await say(alice, "hi bob, it's alice");
    const seenByBob = await waitForMessage(bob, "hi bob, it's alice");
    const seenByAlice = await waitForMessage(alice, "hi bob, it's alice");
    expect(seenByBob).toMatchObject({ author: "alice", own: false });
    expect(seenByAlice).toMatchObject({ author: "alice", own: true });
    expectSide(seenByBob, "left");
    expectSide(seenByAlice, "right");
    expect(seenByBob.id).toBe(seenByAlice.id);
    expect(Number.isNaN(Date.parse(seenByBob.datetime))).toBe(false);
    // The locale's own short time (en-US: "2:05 PM"), not a forced two-digit hour.
    expect(seenByBob.time).toBe(
      new Intl.DateTimeFormat("en-US", { timeStyle: "short" }).format(new Date(seenByBob.datetime)),
    );
    expect(await alice.inputValue("#text")).toBe(""); // the composer is cleared after sending

    await say(bob, "héllo alice, ça va ? — bob");
    expect(await waitForMessage(alice, "héllo alice, ça va ? — bob")).toMatchObject({ author: "bob", own: false });
    expect(await waitForMessage(bob, "héllo alice, ça va ? — bob")).toMatchObject({ author: "bob", own: true });
  });

  it("someone typing your name is not you: own is decided by the session, and a shared name is told apart", async () => {
    await bob.fill("#name", "alice"); // bob pretends to be alice
    await say(bob, "it's me, alice (not really)");
    const seenByAlice = await waitForMessage(alice, "it's me, alice (not really)");
    const seenByBob = await waitForMessage(bob, "it's me, alice (not really)");
    expect(seenByAlice).toMatchObject({ author: "alice", own: false });
    expect(seenByBob).toMatchObject({ author: "alice", own: true });
    // Two different people now write as "alice": each message shows its author's short tag.
    expect(seenByAlice.tag).toMatch(/^ #[A-Za-z0-9_-]{4}$/);
    const alicesOwn = await waitForMessage(alice, "hi bob, it's alice");
    expect(alicesOwn.own).toBe(true);
    expect(alicesOwn.tag).toMatch(/^ #[A-Za-z0-9_-]{4}$/);
    expect(alicesOwn.tag).not.toBe(seenByAlice.tag);
    await bob.fill("#name", "bob");
  });

  it("shows the server's error inline when the name is refused", async () => {
    const refused = await fetch(`${server.url}/rooms/${ROOM}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user: "bot", text: "x" }),
    });
    expect(refused.status).toBe(400);
    const { error } = (await refused.json()) as { error: string };

    await bob.fill("#name", "bot");
    await say(bob, "pretending to be the bot");
    await bob.waitForSelector("#error:not([hidden])", WAIT);
    expect(await bob.textContent("#error")).toBe(error);
    expect(await bob.inputValue("#text")).toBe("pretending to be the bot"); // kept, to fix and resend
    await bob.fill("#name", "bob"); // typing in the name box clears the error
    expect(await bob.isHidden("#error")).toBe(true);
    await bob.fill("#text", "");
  });

  it("streams a bot reply token by token into one bubble that ends as a final message", async () => {
    // Record every length the growing bubble's text takes, from the first mutation on.
    await alice.evaluate(() => {
      const lengths: number[] = [];
      (window as unknown as { replyLengths: number[] }).replyLengths = lengths;
      new MutationObserver(() => {
        const growing = document.querySelector("#messages .msg.streaming .text");
        if (growing) lengths.push(growing.textContent?.length ?? 0);
      }).observe(document.querySelector("#messages") as Element, {
        childList: true,
        subtree: true,
        characterData: true,
      });
    });
    // A log taller than the view, so following the growing reply means scrolling.
    const carol = new ApiClient(server.url);
    for (let i = 1; i <= 30; i++) await carol.post(ROOM, "carol", `filler ${i}`);
    await waitForMessage(alice, "filler 30");
    await waitForMessage(bob, "filler 30");
    await say(alice, "/bot help");
    await alice.waitForFunction(() => document.querySelector("#messages .msg.bot.streaming") !== null, undefined, WAIT);
    await alice.waitForFunction(
      () => document.querySelector("#messages .msg.bot[data-id]:not(.streaming)") !== null,
      undefined,
      WAIT,
    );

    const reply = await alice.evaluate(() => {
      const final = document.querySelector<HTMLElement>("#messages .msg.bot[data-id]") as HTMLElement;
      return {
        text: final.querySelector(".text")?.textContent ?? "",
        replyId: final.dataset.replyId ?? "",
        failed: final.classList.contains("failed"),
        sameReply: document.querySelectorAll(`#messages [data-reply-id="${final.dataset.replyId}"]`).length,
        streaming: document.querySelectorAll("#messages .streaming").length,
        busy: final.getAttribute("aria-busy"),
        lengths: (window as unknown as { replyLengths: number[] }).replyLengths,
      };
    });
    const partial = new Set(reply.lengths.filter((length) => length > 0 && length < reply.text.length));
    expect(partial.size, `partial lengths seen: ${reply.lengths.join(",")}`).toBeGreaterThanOrEqual(2);
    expect([...partial].every((length, i, all) => i === 0 || length > (all[i - 1] as number))).toBe(true); // only grows
    expect(reply.text.length).toBeGreaterThan(0);
    expect(reply.replyId).not.toBe("");
    expect(reply).toMatchObject({ failed: false, sameReply: 1, streaming: 0, busy: null });

    // Both readers were at the bottom: they stay there through the growing reply, with no pill.
    for (const page of [alice, bob]) {
      await page.waitForFunction(
        () => {
          const log = document.querySelector("#messages") as HTMLElement;
          return log.scrollHeight - log.scrollTop - log.clientHeight < 2;
        },
        undefined,
        WAIT,
      );
      expect(await page.isHidden("#jump")).toBe(true);
    }

    // The other page got the same finished reply, once.
    await waitForMessage(bob, reply.text);
    expect(await bob.locator(`#messages [data-reply-id="${reply.replyId}"]`).count()).toBe(1);
  });

  it("renders hostile and multi-line text as text", async () => {
    const hostile = "<img src=x onerror=alert(1)>\nsecond line <b>not bold</b>";
    await say(bob, hostile);
    for (const page of [alice, bob]) {
      const shown = await waitForMessage(page, hostile);
      expect(shown.whiteSpace).toBe("pre-wrap");
      expect(await page.locator("#messages img, #messages b").count()).toBe(0);
    }
    // pre-wrap keeps the line break: the bubble's rendered text has two lines.
    const lines = await alice.evaluate(
      (wanted) =>
        [...document.querySelectorAll<HTMLElement>("#messages .text")]
          .find((text) => text.textContent === wanted)
          ?.innerText.split("\n").length,
      hostile,
    );
    expect(lines).toBe(2);

    await Promise.all([
      alice.screenshot({ path: `${OUTPUT}chat-desktop.png` }),
      bob.screenshot({ path: `${OUTPUT}chat-phone.png` }),
    ]);
    await bob.emulateMedia({ colorScheme: "dark" });
    await bob.screenshot({ path: `${OUTPUT}chat-phone-dark.png` });
    await bob.emulateMedia({ colorScheme: "light" });
  });

  it("recovers after the server restarts on the same port, showing what the new server has, nothing twice", async () => {
    const port = new URL(server.url).port;
    const before = await domIds(alice);
    expect(before.ids.length).toBeGreaterThan(0);

    await server.stop("SIGTERM");
    await Promise.all([waitForState(alice, "reconnecting"), waitForState(bob, "reconnecting")]);
    expect(await alice.textContent("#status")).toContain("reconnecting");

    // The new instance's bot talks to an OpenAI-compatible API on a closed port: its replies fail.
    const deadApi = `http://127.0.0.1:${await closedPort()}`;
    const failingBot = ["--bot", "openai", "--openai-base-url", deadApi, "--openai-model", "none"];
    server = await startServer(runtime, [...failingBot, "--port", port]);
    expect(new URL(server.url).port).toBe(port);
    await Promise.all([waitForState(alice, "live"), waitForState(bob, "live")]);

    // The new server does not know the old cursor (reset): the page drops what the server no
    // longer has and says, in plain words, where the kept history begins.
    for (const page of [alice, bob]) {
      await page.waitForFunction(
        () =>
          document.querySelector("#messages .notice.history-start")?.textContent ===
            "Earlier messages are no longer available. The conversation continues from here." &&
          document.querySelectorAll("#messages .msg").length === 0,
        undefined,
        WAIT,
      );
    }

    await say(bob, "still here after the restart");
    expect(await waitForMessage(alice, "still here after the restart")).toMatchObject({ author: "bob", own: false });
    const own = await waitForMessage(bob, "still here after the restart");
    expect(own).toMatchObject({ author: "bob", own: true });

    // The new server has a new session secret: each page gets a session again and is listed.
    await alice.waitForFunction(
      () =>
        [...document.querySelectorAll("#people-list li")].map((item) => item.textContent).join("|") ===
        "alice (you)|bob",
      undefined,
      WAIT,
    );
    for (const page of [alice, bob]) {
      const after = await domIds(page);
      expect(after.duplicates).toEqual([]);
      expect(after.ids).toEqual([own.id]); // exactly what the new server has
      expect(after.ids.some((id) => before.ids.includes(id))).toBe(false);
      expect(await page.isHidden("#error")).toBe(true);
      expect(await page.isHidden("#offline")).toBe(true);
    }
  });

  it("styles a failed bot reply as an error", async () => {
    await say(alice, "/bot are you there?");
    await alice.waitForFunction(
      () => document.querySelector("#messages .msg.bot.failed[data-id]") !== null,
      undefined,
      WAIT,
    );
    const failed = await alice.evaluate(() => {
      const item = document.querySelector<HTMLElement>("#messages .msg.bot.failed[data-id]") as HTMLElement;
      const style = getComputedStyle(item);
      const plain = getComputedStyle(
        document.querySelector("#messages .msg:not(.own):not(.bot):not(.failed)") as Element,
      );
      return {
        text: item.textContent ?? "",
        streaming: document.querySelectorAll("#messages .streaming").length,
        border: style.borderColor,
        plainBorder: plain.borderColor,
      };
    });
    expect(failed.text.length).toBeGreaterThan(0);
    expect(failed.streaming).toBe(0);
    expect(failed.border).not.toBe(failed.plainBorder);
    await bob.waitForFunction(
      () => document.querySelector("#messages .msg.bot.failed[data-id]") !== null,
      undefined,
      WAIT,
    );
    await alice.screenshot({ path: `${OUTPUT}chat-desktop-after-restart.png` });
  });

  it("connect() from eddy's core runs in the page (web APIs only) and reads a room", async () => {
    // The core bundled as the package ships it, evaluated in the page (the page's CSP allows
    // only its own scripts, and DevTools evaluation is not a page script).
    const bundled = await build({
      entryPoints: [`${ROOT}core/mod.ts`],
      bundle: true,
      write: false,
      format: "iife",
      globalName: "eddyCore",
      footer: { js: "globalThis.eddyCore = eddyCore;" }, // evaluation may scope the var
      platform: "browser",
      target: "es2022",
    });
    await bob.evaluate(bundled.outputFiles[0]!.text);
    const reading = bob.evaluate(async (room) => {
      const { connect } = (globalThis as unknown as { eddyCore: typeof import("../core/mod.ts") }).eddyCore;
      const texts: string[] = [];
      let opened = 0;
      const events = connect(`${location.origin}/rooms/${room}/events?history=0`, {
        onOpen: () => opened++,
        idleTimeout: 60_000,
      });
      for await (const event of events) {
        if (event.type !== "message") continue;
        texts.push((JSON.parse(event.data) as { text: string }).text);
        if (texts.length === 2) break;
      }
      return { texts, opened, readyState: events.readyState, lastEventId: events.lastEventId };
    }, `${ROOM}-client`);
    // The page's client is subscribed once the room counts it; then two messages arrive.
    await waitFor(
      async () => {
        const rooms = (await (await fetch(`${server.url}/rooms`)).json()) as {
          rooms: { room: string; subscribers: number }[];
        };
        return rooms.rooms.some((room) => room.room === `${ROOM}-client` && room.subscribers > 0);
      },
      { what: "the page's connect() to subscribe" },
    );
    const ids: string[] = [];
    for (const text of ["브라우저에서 읽기", "second"]) {
      const response = await fetch(`${server.url}/rooms/${ROOM}-client/messages`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ user: "carol", text }),
      });
      ids.push(((await response.json()) as { id: string }).id);
    }
    expect(await reading).toEqual({
      texts: ["브라우저에서 읽기", "second"],
      opened: 1,
      readyState: "closed",
      lastEventId: ids[1],
    });
  });

  it("raised no page errors, dialogs or CSP violations", () => {
    expect(problems.list).toEqual([]);
  });
});

/** A local TCP port with nothing listening on it (connections to it are refused). */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
