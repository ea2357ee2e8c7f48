/**
 * The chat page as people use it, in Chromium: Korean and English (from navigator.languages),
 * local times and day separators, Korean line breaks measured from the rendered line boxes,
 * links built as anchors while hostile text stays text, two people with one name, the typing
 * indicator between two pages, the unread count of a hidden tab and the "new since you left"
 * divider, keyboard-only use with visible focus rings, the compact join form on a phone, own /
 * others' / bot bubbles told apart in light and dark, and Unicode room names. Screenshots in
 * test-output/.
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
  OUTPUT,
  openChat,
  type OpenOptions,
  PHONE,
  say,
  setHidden,
  WAIT,
  waitForMessage,
  waitForState,
} from "./_browser.ts";

const KOREAN_PARAGRAPH =
  "오늘은 날씨가 정말 좋아서 친구들과 함께 한강 공원에 가기로 했습니다. 점심으로는 김밥과 떡볶이를 먹고, " +
  "오후에는 자전거를 빌려서 강변을 따라 천천히 달렸습니다. 해가 질 무렵에는 돗자리를 펴고 앉아 이야기를 " +
  "나누었는데, 바람이 선선해서 무척 즐거운 하루였습니다.";

describeBrowser("chat page for people in Chromium [node]", () => {
  const chat = chatInChromium(["--rate-limit", "off", "--bot", "typewriter", "--typewriter-ms", "5"]);
  const opened: Page[] = [];

  async function person(options: OpenOptions): Promise<Page> {
    const { page } = await openChat(chat.browser, chat.server.url, chat.problems, options);
    opened.push(page);
    return page;
  }

  it("speaks Korean or English by navigator.languages, with <html lang> and the locale's times", async () => {
    const ko = await person({ room: "lang", locale: "ko-KR" });
    const en = await person({ room: "lang", locale: "en-GB" });
    const fr = await person({ room: "lang", locale: "fr-FR" }); // no French table: English
    const facts = (page: Page) =>
      page.evaluate(() => ({
        lang: document.documentElement.lang,
        title: document.title,
        labels: [...document.querySelectorAll(".field-label")].map((label) => label.textContent),
        placeholders: [...document.querySelectorAll("input, textarea")].map((input) =>
          input.getAttribute("placeholder"),
        ),
        join: document.querySelector("#join")?.textContent,
        send: document.querySelector("#send")?.textContent,
        welcome: document.querySelector("#welcome")?.textContent,
        log: document.querySelector("#messages")?.getAttribute("aria-label"),
        status: getComputedStyle(document.querySelector("#status") as Element).display,
      }));
    expect(await facts(ko)).toEqual({
      lang: "ko",
      title: "eddy 채팅",
      labels: ["이름", "방"],
      placeholders: ["내 이름", "lobby", "메시지를 입력하세요…"],
      join: "입장",
      send: "보내기",
      welcome: "이름과 방을 정한 뒤 입장을 누르세요.",
      log: "메시지",
      status: "none", // not joined, not connected: no connection pill yet
    });
    expect(await facts(en)).toMatchObject({ lang: "en", title: "eddy chat", join: "Join", labels: ["Name", "Room"] });
    expect(await facts(fr)).toMatchObject({ lang: "en", join: "Join" });

    // Nobody is connected or counted before Join: one step, then you are in.
    const rooms = (await (await fetch(`${chat.server.url}/rooms`)).json()) as { rooms: { room: string }[] };
    expect(rooms.rooms.some((room) => room.room === "lang")).toBe(false);

    for (const [page, name] of [
      [ko, "민수"],
      [en, "Ann"],
    ] as const) {
      await page.fill("#name", name);
      await page.press("#name", "Enter");
      await waitForState(page, "live");
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("text"); // ready to write
    }
    expect(await ko.textContent("#status")).toContain("연결됨");
    await say(ko, "안녕하세요");
    const koTime = await waitForMessage(ko, "안녕하세요");
    const enTime = await waitForMessage(en, "안녕하세요");
    const expected = (page: Page, locale: string, iso: string) =>
      page.evaluate(
        ([tag, when]) => new Intl.DateTimeFormat(tag, { timeStyle: "short" }).format(new Date(when as string)),
        [locale, iso],
      );
    expect(koTime.time).toBe(await expected(ko, "ko-KR", koTime.datetime));
    expect(koTime.time).toMatch(/^(오전|오후) \d{1,2}:\d{2}$/);
    expect(enTime.time).toBe(await expected(en, "en-GB", enTime.datetime)); // en-GB: 24-hour clock
    // One separator for the day, none of the day on each bubble.
    expect(await ko.locator("#messages .day").allTextContents()).toEqual(["오늘"]);
    expect(await en.locator("#messages .day").allTextContents()).toEqual(["Today"]);
  });

  it("paints Korean from the first frame, even when the Korean strings arrive late (no English flash)", async () => {
    const context = await chat.browser.newContext({ locale: "ko-KR" });
    // The strings come 400 ms after everything else: without render blocking, Chromium paints the
    // English fallback in index.html first (first paint before the strings, measured).
    await context.route("**/i18n/ko.js", async (route) => {
      await new Promise((resolve) => setTimeout(resolve, 400));
      await route.continue();
    });
    await context.addInitScript(() => {
      // When the Join button's text changed, from before the page's first element is parsed.
      const changes: { at: number; text: string | null }[] = [];
      (window as unknown as { eddyJoinText: typeof changes }).eddyJoinText = changes;
      new MutationObserver(() => {
        const text = document.querySelector("#join")?.textContent ?? null;
        if (changes.at(-1)?.text !== text) changes.push({ at: performance.now(), text });
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    const page = await context.newPage();
    chat.problems.watch(page, "first paint");
    await gotoRoom(page, chat.server.url, "first-paint");
    await page.waitForFunction(() => performance.getEntriesByName("first-contentful-paint").length > 0, null, WAIT);
    const facts = await page.evaluate(() => ({
      firstPaint: (performance.getEntriesByName("first-contentful-paint")[0] as PerformanceEntry).startTime,
      changes: (window as unknown as { eddyJoinText: { at: number; text: string | null }[] }).eddyJoinText,
    }));
    const korean = facts.changes.find((change) => change.text === "입장");
    expect(korean, JSON.stringify(facts)).toBeDefined();
    expect(korean?.at, JSON.stringify(facts)).toBeLessThan(facts.firstPaint);
    await context.close();
  });

  it("separates days: yesterday's messages and older ones get their day, in the locale's style", async () => {
    const ids = await chat.api.postMany("days", "민수", 2, "day ");
    const tomorrow = Date.now() + 24 * 3600_000;
    const later = Date.now() + 10 * 24 * 3600_000;
    // expected: the separator's text; null: the locale's weekday, month and day (computed in the page).
    for (const [when, locale, expected] of [
      [tomorrow, "en-US", "Yesterday"],
      [tomorrow, "ko-KR", "어제"],
      [later, "ko-KR", null],
    ] as const) {
      const context = await chat.browser.newContext({ locale });
      const page = await context.newPage();
      chat.problems.watch(page, `days ${locale}`);
      await page.clock.setFixedTime(when); // the reader's clock: a day (or ten) after the messages
      await gotoRoom(page, chat.server.url, "days");
      await page.fill("#name", "Ann");
      await page.press("#name", "Enter");
      await page.waitForFunction(
        () => document.querySelectorAll("#messages .msg[data-id]").length === 2,
        undefined,
        WAIT,
      );
      expect((await domIds(page)).ids).toEqual(ids);
      const days = await page.locator("#messages .day").allTextContents();
      expect(days.length).toBe(1);
      if (expected === null) {
        // Ten days back, this year: "12월 1일 월요일" (the year only when it is not this year's).
        const shown = await page.evaluate(() => {
          const item = document.querySelector<HTMLElement>("#messages .msg[data-id]") as HTMLElement;
          const date = new Date(Number(item.dataset.time));
          const format =
            date.getFullYear() === new Date().getFullYear()
              ? new Intl.DateTimeFormat("ko-KR", { weekday: "long", month: "long", day: "numeric" })
              : new Intl.DateTimeFormat("ko-KR", { dateStyle: "full" });
          return format.format(date);
        });
        expect(days[0]).toBe(shown);
        expect(days[0]).toMatch(/요일/);
      } else {
        expect(days[0]).toBe(expected);
      }
      await context.close();
    }
  });

  it("relabels 'Today' as 'Yesterday' in a tab left open past midnight", async () => {
    const context = await chat.browser.newContext({ locale: "en-US" });
    const page = await context.newPage();
    chat.problems.watch(page, "midnight");
    await chat.api.post("midnight", "민수", "late at night");
    await page.clock.setFixedTime(Date.now());
    await gotoRoom(page, chat.server.url, "midnight");
    await page.fill("#name", "Ann");
    await page.press("#name", "Enter");
    await page.waitForSelector("#messages .day", WAIT);
    expect(await page.locator("#messages .day").allTextContents()).toEqual(["Today"]);
    await page.clock.setFixedTime(Date.now() + 24 * 3600_000);
    await setHidden(page, true); // the reader comes back to the tab the next day
    await setHidden(page, false);
    expect(await page.locator("#messages .day").allTextContents()).toEqual(["Yesterday"]);
    await context.close();
  });

  it("breaks a Korean paragraph between words, never inside one (measured from the line boxes)", async () => {
    const minsu = await person({ name: "민수", room: "korean", locale: "ko-KR", context: PHONE });
    const long = `${"가나다라마바사아자차카타파하".repeat(8)} https://example.com/${"a".repeat(120)}`;
    await say(minsu, KOREAN_PARAGRAPH);
    await waitForMessage(minsu, KOREAN_PARAGRAPH);
    await say(minsu, long);
    await waitForMessage(minsu, long);

    /** For the bubble with `text`: its lines, and the words whose glyphs sit on more than one line. */
    const measure = (page: Page, text: string, style?: string) =>
      page.evaluate(
        ([wanted, wordBreak]) => {
          const body = [...document.querySelectorAll<HTMLElement>("#messages .text")].find(
            (candidate) => candidate.textContent === wanted,
          ) as HTMLElement;
          if (wordBreak) body.style.wordBreak = wordBreak; // the control: the browser's default
          const node = body.firstChild as Text;
          const lineOf = (start: number, end: number) => {
            const range = document.createRange();
            range.setStart(node, start);
            range.setEnd(node, end);
            return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          };
          const split: string[] = [];
          const lines = new Set<number>();
          let offset = 0;
          // Word by word over the one Text node (a bubble with a link has more nodes: not measured).
          const words = body.childNodes.length === 1 ? (wanted as string).split(" ") : [];
          for (const word of words) {
            const tops = lineOf(offset, offset + word.length);
            for (const top of tops) lines.add(top);
            if (tops.size > 1) split.push(word);
            offset += word.length + 1;
          }
          const computed = getComputedStyle(body);
          const bubble = body.closest(".msg") as HTMLElement;
          const result = {
            lines: lines.size,
            split,
            wordBreak: computed.wordBreak,
            overflowWrap: computed.overflowWrap,
            overflows: body.scrollWidth > body.clientWidth || bubble.getBoundingClientRect().right > innerWidth,
          };
          body.style.removeProperty("word-break");
          return result;
        },
        [text, style ?? ""],
      );

    const korean = await measure(minsu, KOREAN_PARAGRAPH);
    expect(korean).toMatchObject({ split: [], wordBreak: "keep-all", overflowWrap: "anywhere", overflows: false });
    expect(korean.lines).toBeGreaterThanOrEqual(4);
    // The measurement can tell: with the browser's default rule, words are cut across lines.
    const control = await measure(minsu, KOREAN_PARAGRAPH, "normal");
    expect(control.split.length).toBeGreaterThan(0);
    // A string with no break opportunity still wraps inside the bubble instead of widening the page.
    const unbroken = await measure(minsu, long);
    expect(unbroken.overflows).toBe(false);
    expect(await minsu.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await minsu.screenshot({ path: `${OUTPUT}ui-korean-phone.png` });
  });

  it("makes http(s) links anchors (href, rel) while hostile text stays text", async () => {
    const ann = await person({ name: "Ann", room: "links" });
    const text =
      "docs: https://example.com/a?b=1&c=2#frag. and (https://ko.wikipedia.org/wiki/한국어) or " +
      "http://example.org:8080에서 보세요 <img src=x onerror=alert(1)> javascript:alert(1) https://";
    await say(ann, text);
    await waitForMessage(ann, text);
    const links = await ann.evaluate((wanted) => {
      const body = [...document.querySelectorAll("#messages .text")].find(
        (candidate) => candidate.textContent === wanted,
      ) as HTMLElement;
      return {
        anchors: [...body.querySelectorAll("a")].map((a) => ({
          href: a.getAttribute("href"),
          text: a.textContent,
          rel: a.rel,
          target: a.target,
        })),
        elements: [...body.querySelectorAll("*")].map((element) => element.tagName),
        images: document.querySelectorAll("#messages img").length,
      };
    }, text);
    expect(links.anchors).toEqual([
      {
        href: "https://example.com/a?b=1&c=2#frag",
        text: "https://example.com/a?b=1&c=2#frag",
        rel: "noopener noreferrer",
        target: "_blank",
      },
      {
        href: "https://ko.wikipedia.org/wiki/%ED%95%9C%EA%B5%AD%EC%96%B4",
        text: "https://ko.wikipedia.org/wiki/한국어",
        rel: "noopener noreferrer",
        target: "_blank",
      },
      // The host ends the link before the Korean particle ("…:8080에서" is "at …:8080").
      {
        href: "http://example.org:8080/",
        text: "http://example.org:8080",
        rel: "noopener noreferrer",
        target: "_blank",
      },
    ]);
    expect(links.elements).toEqual(["A", "A", "A"]); // nothing else became an element
    expect(links.images).toBe(0);
  });

  it("tells apart two people who both call themselves 민수, in the log and in who is here", async () => {
    const first = await person({ name: "민수", room: "same-name", locale: "ko-KR" });
    const second = await person({ name: "민수", room: "same-name", locale: "ko-KR", context: PHONE });
    await say(first, "첫 번째 민수예요");
    await say(second, "저도 민수예요");
    // The second author's message first: its arrival is what tags both (read `a` after it).
    const b = await waitForMessage(first, "저도 민수예요");
    const a = await waitForMessage(first, "첫 번째 민수예요");
    expect(a).toMatchObject({ author: "민수", own: true });
    expect(b).toMatchObject({ author: "민수", own: false });
    expect(a.tag).toMatch(/^ #[A-Za-z0-9_-]{4}$/);
    expect(b.tag).toMatch(/^ #[A-Za-z0-9_-]{4}$/);
    expect(a.tag).not.toBe(b.tag);
    const onSecond = await waitForMessage(second, "첫 번째 민수예요");
    expect(onSecond).toMatchObject({ own: false, tag: a.tag });
    // Who is here: both, each with their tag, yourself marked.
    await first.waitForFunction(() => document.querySelectorAll("#people-list li").length === 2, undefined, WAIT);
    const list = await first.locator("#people-list li").allTextContents();
    expect(list).toEqual([`민수${a.tag} (나)`, `민수${b.tag}`]);
    await first.screenshot({ path: `${OUTPUT}ui-same-name.png` });
  });

  it("shows who is typing on the other page (throttled, never your own), gone when their message arrives", async () => {
    const ann = await person({ name: "Ann", room: "typing" });
    const minsu = await person({ name: "민수", room: "typing", locale: "ko-KR", context: PHONE });
    const typingPosts: number[] = [];
    minsu.on("request", (request) => {
      if (request.method() === "POST" && request.url().endsWith("/typing")) typingPosts.push(Date.now());
    });
    await minsu.focus("#text");
    const started = Date.now();
    await minsu.keyboard.type("안녕하세요 Ann, 잘 지냈어요?", { delay: 100 }); // about 2 s of typing
    const typedFor = Date.now() - started;
    await ann.waitForFunction(
      () => document.querySelector("#typing")?.textContent === "민수 is typing…",
      undefined,
      WAIT,
    );
    expect(await minsu.textContent("#typing")).toBe(""); // never your own
    // At most one announcement per 2 s of typing.
    expect(typingPosts.length).toBeGreaterThanOrEqual(1);
    expect(typingPosts.length).toBeLessThanOrEqual(Math.floor(typedFor / 2000) + 1);
    await ann.screenshot({ path: `${OUTPUT}ui-typing.png` });

    // Stopping: the indicator goes about 4 s after the last announcement.
    await ann.waitForFunction(() => document.querySelector("#typing")?.textContent === "", undefined, WAIT);
    expect(Date.now() - (typingPosts.at(-1) as number)).toBeGreaterThan(3000);

    // Typing again (the server passes one announcement per person per 2 s), then sending.
    await minsu.keyboard.type("!");
    await ann.waitForFunction(
      () => document.querySelector("#typing")?.textContent === "민수 is typing…",
      undefined,
      WAIT,
    );
    await minsu.press("#text", "Enter");
    await waitForMessage(ann, "안녕하세요 Ann, 잘 지냈어요?!");
    expect(await ann.textContent("#typing")).toBe(""); // cleared with the message, not by a timer
  });

  it("counts unread messages in the title while the tab is hidden, and marks where they start", async () => {
    const ann = await person({ name: "Ann", room: "unread" });
    const minsu = await person({ name: "민수", room: "unread", locale: "ko-KR" });
    await say(ann, "anyone here?");
    await waitForMessage(minsu, "anyone here?");
    expect(await ann.title()).toBe("#unread · eddy chat");

    await setHidden(ann, true);
    await say(minsu, "네, 여기 있어요");
    // Answered (the page clears the box then): it sends one message at a time, and an Enter
    // pressed while one is on its way sends nothing.
    await minsu.waitForFunction(() => (document.querySelector("#text") as HTMLTextAreaElement).value === "");
    await say(minsu, "무슨 일이에요?");
    await ann.waitForFunction(() => document.title === "(2) #unread · eddy chat", undefined, WAIT);
    await say(ann, "my own message does not count"); // typed from another window, say
    await waitForMessage(ann, "my own message does not count");
    expect(await ann.title()).toBe("(2) #unread · eddy chat");

    await setHidden(ann, false);
    expect(await ann.title()).toBe("#unread · eddy chat");
    const order = await ann.evaluate(() =>
      [...document.querySelectorAll("#messages > li.msg, #messages > li.divider-new")].map((item) =>
        item.classList.contains("divider-new") ? `-- ${item.textContent}` : item.querySelector(".text")?.textContent,
      ),
    );
    expect(order).toEqual([
      "anyone here?",
      "-- New since you left",
      "네, 여기 있어요",
      "무슨 일이에요?",
      "my own message does not count",
    ]);
  });

  it("remembers the last message seen per room: a page opened later marks what is new", async () => {
    const { page: ann, context } = await openChat(chat.browser, chat.server.url, chat.problems, {
      name: "Ann",
      room: "left",
    });
    await say(ann, "see you later");
    const last = await waitForMessage(ann, "see you later");
    await ann.waitForFunction((id) => localStorage.getItem("eddy.seen.left") === id, last.id, WAIT);
    await ann.close();
    await chat.api.post("left", "민수", "다녀오세요");
    await chat.api.post("left", "민수", "새 소식이 있어요");

    const again = await context.newPage();
    chat.problems.watch(again, "ann again");
    await gotoRoom(again, chat.server.url, "left");
    await again.waitForSelector("#messages .divider-new", WAIT);
    const order = await again.evaluate(() =>
      [...document.querySelectorAll("#messages > li.msg, #messages > li.divider-new")].map((item) =>
        item.classList.contains("divider-new") ? "--" : item.querySelector(".text")?.textContent,
      ),
    );
    expect(order).toEqual(["see you later", "--", "다녀오세요", "새 소식이 있어요"]);
    await context.close();
  });

  it("works from the keyboard alone, with a visible focus ring everywhere, and 'New messages ↓' moves focus to the log", async () => {
    await chat.api.postMany("keys", "민수", 40, "filler ");
    const context = await chat.browser.newContext({ locale: "en-US", viewport: { width: 1000, height: 700 } });
    const page = await context.newPage();
    chat.problems.watch(page, "keyboard");
    await gotoRoom(page, chat.server.url, "keys");
    const focused = () =>
      page.evaluate(() => {
        const element = document.activeElement as HTMLElement;
        const ringed = (element.closest(".field") as HTMLElement | null) ?? element;
        const style = getComputedStyle(ringed);
        return {
          id: element.id || element.className,
          ring: style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) >= 2,
        };
      });
    expect(await focused()).toEqual({ id: "name", ring: true }); // the first thing to do
    await page.keyboard.type("Kim");
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ id: "room", ring: true });
    expect(await page.inputValue("#room")).toBe("keys");
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ id: "join", ring: true });
    await page.keyboard.press("Enter");
    await waitForState(page, "live");
    expect(await focused()).toEqual({ id: "text", ring: true });
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ id: "send", ring: true });

    // Enter sends, Shift+Enter is a new line.
    await page.focus("#text");
    await page.keyboard.type("line one");
    await page.keyboard.press("Shift+Enter");
    await page.keyboard.type("line two");
    await page.keyboard.press("Enter");
    await waitForMessage(page, "line one\nline two");

    // The whole (short) history loaded first, so no "load older" button appears or goes away
    // while the keys are pressed (a focused one that goes hands the focus to the log itself).
    await page.evaluate(() => {
      (document.querySelector("#messages") as HTMLElement).scrollTop = 0;
    });
    await page.waitForFunction(
      () => document.querySelector<HTMLElement>("#messages .history-edge")?.dataset.state === "done",
      undefined,
      WAIT,
    );
    // To the log (Shift+Tab from the composer), and up to the top with Home.
    await page.focus("#text");
    for (let i = 0; i < 5 && (await focused()).id !== "messages"; i++) await page.keyboard.press("Shift+Tab");
    expect(await focused()).toEqual({ id: "messages", ring: true });
    await page.keyboard.press("Home");
    await page.waitForFunction(
      () => (document.querySelector("#messages") as HTMLElement).scrollTop < 5,
      undefined,
      WAIT,
    );
    await chat.api.post("keys", "민수", "news while you read");
    await page.waitForSelector("#jump:not([hidden])", WAIT);
    for (let i = 0; i < 6 && (await focused()).id !== "jump"; i++) await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ id: "jump", ring: true });
    await page.screenshot({ path: `${OUTPUT}ui-keyboard-jump.png` });
    await page.keyboard.press("Enter");
    expect(await focused()).toEqual({ id: "messages", ring: true });
    expect(await page.isHidden("#jump")).toBe(true);
    const fromBottom = await page.evaluate(() => {
      const log = document.querySelector("#messages") as HTMLElement;
      return log.scrollHeight - log.scrollTop - log.clientHeight;
    });
    expect(fromBottom).toBeLessThan(2);
    await context.close();
  });

  it("keeps the join form compact on a 390 px phone (≤ 56 px), placeholders whole, in both languages", async () => {
    for (const locale of ["en-US", "ko-KR"]) {
      const context = await chat.browser.newContext({ ...PHONE, locale });
      const page = await context.newPage();
      chat.problems.watch(page, `phone ${locale}`);
      await gotoRoom(page, chat.server.url, "phone");
      await page.fill("#room", ""); // the room placeholder shows too
      const layout = await page.evaluate(() => {
        const form = document.querySelector("#identity") as HTMLElement;
        const cut = [...form.querySelectorAll("input")].filter((input) => {
          const value = input.value;
          input.value = input.placeholder; // the placeholder's text, measured as if typed
          const truncated = input.scrollWidth > input.clientWidth;
          input.value = value;
          return truncated;
        });
        return {
          height: form.getBoundingClientRect().height,
          cut: cut.map((input) => input.id),
          pageWidth: document.documentElement.scrollWidth,
        };
      });
      expect(layout.height).toBeLessThanOrEqual(56);
      expect(layout.cut).toEqual([]);
      expect(layout.pageWidth).toBeLessThanOrEqual(390);
      await page.screenshot({ path: `${OUTPUT}ui-join-phone-${locale}.png` });
      await context.close();
    }
  });

  it("makes own, others' and the bot's bubbles easy to tell apart, readable in light and dark", async () => {
    const ann = await person({ name: "Ann", room: "colors", context: PHONE });
    const minsu = await person({ name: "민수", room: "colors", locale: "ko-KR" });
    await say(minsu, "안녕하세요, 민수입니다");
    await say(ann, "/bot echo hello from the bot");
    await ann.waitForSelector("#messages .msg.bot[data-id]", WAIT);
    await waitForMessage(ann, "안녕하세요, 민수입니다");
    for (const scheme of ["light", "dark"] as const) {
      await ann.emulateMedia({ colorScheme: scheme });
      const colors = await ann.evaluate(() => {
        const pick = (selector: string) => {
          const item = document.querySelector(selector) as HTMLElement;
          const style = getComputedStyle(item);
          return {
            background: style.backgroundColor,
            border: style.borderLeftColor,
            text: getComputedStyle(item.querySelector(".text") as Element).color,
            meta: getComputedStyle(item.querySelector(".meta") as Element).color,
          };
        };
        return {
          page: getComputedStyle(document.querySelector("#messages") as Element).backgroundColor,
          body: getComputedStyle(document.body).backgroundColor,
          own: pick("#messages .msg.own[data-id]"),
          other: pick("#messages .msg:not(.own):not(.bot)[data-id]"),
          bot: pick("#messages .msg.bot[data-id]"),
        };
      });
      const kinds = [colors.own, colors.other, colors.bot];
      expect(new Set(kinds.map((kind) => kind.background)).size, scheme).toBe(3);
      expect(new Set(kinds.map((kind) => kind.border)).size, scheme).toBe(3);
      for (const [name, kind] of Object.entries({ own: colors.own, other: colors.other, bot: colors.bot })) {
        expect(contrast(kind.text, kind.background), `${scheme} ${name} text`).toBeGreaterThanOrEqual(4.5);
        expect(contrast(kind.meta, kind.background), `${scheme} ${name} name and time`).toBeGreaterThanOrEqual(4.5);
      }
      // Others' bubbles stand out from the page by their border at least.
      expect(contrast(colors.other.border, colors.body), `${scheme} other border`).toBeGreaterThanOrEqual(1.3);
      await ann.screenshot({ path: `${OUTPUT}ui-bubbles-phone-${scheme}.png` });
    }
    await ann.emulateMedia({ colorScheme: "light" });
  });

  it("joins Unicode rooms (percent-encoded in every URL) and explains a bad room name in the page", async () => {
    const ann = await person({ name: "Ann", room: "lobby" });
    const streams: string[] = [];
    ann.on("request", (request) => {
      if (request.url().includes("/events")) streams.push(new URL(request.url()).pathname);
    });
    await ann.fill("#room", "한국어-방");
    await ann.press("#room", "Enter");
    await waitForState(ann, "live");
    expect(streams.at(-1)).toBe(`/rooms/${encodeURIComponent("한국어-방")}/events`);
    expect(new URL(ann.url()).search).toBe(`?room=${encodeURIComponent("한국어-방")}`);
    expect(await ann.textContent("#room-title")).toBe("#한국어-방");
    await say(ann, "unicode room works");
    await waitForMessage(ann, "unicode room works");
    const rooms = (await (await fetch(`${chat.server.url}/rooms`)).json()) as { rooms: { room: string }[] };
    expect(rooms.rooms.map((room) => room.room)).toContain("한국어-방");

    // Typed decomposed (NFD, as some keyboards send it): the same room, NFC.
    await ann.fill("#room", "한국어-방".normalize("NFD"));
    await ann.press("#room", "Enter");
    expect(await ann.inputValue("#room")).toBe("한국어-방");
    expect((await domIds(ann)).ids.length).toBe(1); // still there, not rejoined

    // A bad name: said in the page, next to the form; nothing is opened.
    const before = streams.length;
    await ann.fill("#room", "bad room!");
    await ann.press("#room", "Enter");
    expect(await ann.isVisible("#identity-error")).toBe(true);
    expect(await ann.textContent("#identity-error")).toBe(
      "A room name is 1–64 letters, digits, _ or -, without spaces.",
    );
    expect(await ann.getAttribute("#room", "aria-invalid")).toBe("true");
    expect(await ann.textContent("#room-title")).toBe("#한국어-방");
    expect(streams.length).toBe(before);
    await ann.screenshot({ path: `${OUTPUT}ui-bad-room.png` });
    await ann.fill("#room", "fixed");
    expect(await ann.isHidden("#identity-error")).toBe(true);
    expect(await ann.getAttribute("#room", "aria-invalid")).toBe(null);

    // A name only the server can judge (a Hangul filler is a letter that shows nothing): its
    // refusal, with the server's reason, is shown in the page instead of retrying forever.
    const refused = await fetch(`${chat.server.url}/rooms/${encodeURIComponent("\u3164")}/events`);
    expect(refused.status).toBe(400);
    const { error } = (await refused.json()) as { error: string };
    await ann.fill("#room", "\u3164");
    await ann.press("#room", "Enter");
    await ann.waitForSelector("#error:not([hidden])", WAIT);
    expect(await ann.textContent("#error")).toBe(`This room cannot be opened: ${error}`);
    expect(await ann.isHidden("#offline")).toBe(true); // not a connection problem
    await ann.fill("#room", "한국어-방");
    await ann.press("#room", "Enter");
    await waitForState(ann, "live");
    await waitForMessage(ann, "unicode room works");
    expect(await ann.isHidden("#error")).toBe(true); // that room's problem is not this one's
  });

  it("raised no page errors, dialogs or CSP violations", () => {
    expect(chat.problems.list).toEqual([]);
  });
});

/** WCAG contrast ratio of two CSS colors given as `rgb(...)` / `rgba(...)`. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r, g, bl] = (color.match(/[\d.]+/g) ?? []).slice(0, 3).map((part) => {
      const c = Number(part) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * bl;
  };
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}
