/**
 * Look-alike and invisible names: the UTS #39 skeleton subset of `_confusables.ts`, and the
 * message rules built on it (the bot's name cannot be borrowed by look-alikes; a name or text
 * that shows nothing is refused).
 */
import { describe, expect, test } from "vitest";
import { isInvisible, skeleton } from "../core/chat/_confusables.ts";
import { validateMessageBody } from "../core/chat/_validate.ts";

describe("skeleton", () => {
  test.each([
    ["bot", "bot"],
    ["BOT", "bot"],
    ["bоt", "Cyrillic o"],
    ["Ьот", "Cyrillic Ь, о, т"],
    ["βοτ", "Greek beta, omicron, tau"],
    ["ｂｏｔ", "fullwidth"],
    ["𝐛𝐨𝐭", "mathematical bold"],
    ["b\u200Bo\u200Dt", "zero-width space and joiner"],
    ["b\u00ADot", "soft hyphen"],
    ["bȯt", "combining dot"],
    ["b0t", "digit zero"],
    ["Ᏼօt", "Cherokee B, Armenian o"],
    ["bot\uFE0F", "variation selector"],
  ])("%s (%s) has the skeleton of bot", (text) => {
    expect(skeleton(text)).toBe("bot");
  });

  test("distinct names keep distinct skeletons; scripts without Latin look-alikes stay as they are", () => {
    expect(skeleton("robot")).not.toBe("bot");
    expect(skeleton("민수")).toBe("민수");
    expect(skeleton("Zoë")).toBe("zoe");
    expect(skeleton("bob")).toBe("bob");
  });
});

describe("isInvisible", () => {
  test.each([
    ["ㅤ", "Hangul filler U+3164"],
    ["\u115F\u1160", "Hangul choseong and jungseong fillers"],
    ["\uFFA0", "halfwidth Hangul filler"],
    ["\u200B\u200B", "zero-width spaces"],
    [" \u2060 ", "word joiner between spaces"],
  ])("%j (%s) shows nothing", (text) => {
    expect(isInvisible(text)).toBe(true);
  });

  test("visible text is visible", () => {
    for (const text of ["민수", "a", "😀", "ㅤ민수", "\u200Bx"]) expect(isInvisible(text), text).toBe(false);
  });
});

describe("message rules", () => {
  test("look-alikes of the bot are refused as the reserved name", () => {
    for (const user of ["bоt", "βοτ", "B0T", "ｂｏｔ", "b o t", "bȯt", "Ᏼօt"]) {
      const checked = validateMessageBody({ user, text: "hi" });
      expect(checked.ok, user).toBe(false);
      if (!checked.ok) expect(checked.problem.error).toMatch(/reserved for the bot/);
    }
    // A zero-width character is not a letter: refused before the name is even compared.
    expect(validateMessageBody({ user: "b\u200Bot", text: "hi" }).ok).toBe(false);
    expect(validateMessageBody({ user: "robot", text: "hi" }).ok).toBe(true);
    expect(validateMessageBody({ user: "민수", text: "hi" }).ok).toBe(true);
  });

  test("a name or a text that shows nothing is refused", () => {
    const name = validateMessageBody({ user: "ㅤㅤ", text: "hi" });
    expect(name).toEqual({
      ok: false,
      problem: { status: 400, error: "The user name must contain visible characters" },
    });
    const text = validateMessageBody({ user: "ann", text: "\u3164\u200B" });
    expect(text).toEqual({ ok: false, problem: { status: 400, error: "The text must contain visible characters" } });
    expect(validateMessageBody({ user: "ㅤ민수", text: "안녕" }).ok).toBe(true);
  });
});
