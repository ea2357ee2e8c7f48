/**
 * Private: telling look-alike text apart, for the names the chat reserves and for text that shows
 * nothing. A cut-down version of the *skeleton* of Unicode Technical Standard #39 ("Unicode
 * Security Mechanisms", section "Confusable Detection"):
 *
 * 1. NFKC, which folds compatibility look-alikes (fullwidth `ｂｏｔ`, mathematical `𝐛𝐨𝐭`,
 *    circled and superscript letters);
 * 2. drop default-ignorable code points (Unicode's `Default_Ignorable_Code_Point` property:
 *    zero-width spaces and joiners, soft hyphens, variation selectors, the Hangul fillers
 *    U+115F, U+1160, U+3164 and U+FFA0, which render as nothing yet count as letters) and
 *    combining marks (`bȯt`);
 * 3. map each remaining character through {@link CONFUSABLES}: the entries of UTS #39's
 *    `confusables.txt` (Unicode 15.1) whose target is one basic Latin letter or digit and whose
 *    source is Cyrillic, Greek, Armenian, Cherokee or Latin-extended, plus the digits that pass for
 *    letters (`0` for `o`, `1` and `I` for `l`), as the standard's table does;
 * 4. lower case.
 *
 * The full table (about 6 000 entries) would cost the bundle 60 KiB for names that only have to
 * avoid one word; the subset covers every letter of the reserved names in every script above.
 *
 * @module
 */

/** Latin look-alikes (source → the Latin letter it passes for), from UTS #39 `confusables.txt`. */
const CONFUSABLES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: "a",
  в: "b",
  Ь: "b",
  ь: "b",
  Ъ: "b",
  с: "c",
  ԁ: "d",
  е: "e",
  ё: "e",
  һ: "h",
  Һ: "h",
  і: "i",
  ї: "i",
  ј: "j",
  к: "k",
  ӏ: "l",
  Ӏ: "l",
  м: "m",
  п: "n",
  о: "o",
  р: "p",
  ԛ: "q",
  г: "r",
  ѕ: "s",
  т: "t",
  у: "y",
  ү: "y",
  х: "x",
  ԝ: "w",
  А: "a",
  В: "b",
  С: "c",
  Е: "e",
  Н: "h",
  І: "l",
  Ј: "j",
  К: "k",
  М: "m",
  О: "o",
  Р: "p",
  Ѕ: "s",
  Т: "t",
  У: "y",
  Х: "x",
  Ԛ: "q",
  Ԝ: "w",
  // Greek
  α: "a",
  β: "b",
  ε: "e",
  ι: "i",
  κ: "k",
  ν: "v",
  ο: "o",
  ρ: "p",
  τ: "t",
  υ: "u",
  χ: "x",
  γ: "y",
  Α: "a",
  Β: "b",
  Ε: "e",
  Η: "h",
  Ι: "l",
  Κ: "k",
  Μ: "m",
  Ν: "n",
  Ο: "o",
  Ρ: "p",
  Τ: "t",
  Υ: "y",
  Χ: "x",
  Ζ: "z",
  // Armenian
  օ: "o",
  ո: "n",
  ս: "u",
  հ: "h",
  ց: "g",
  զ: "q",
  Օ: "o",
  Ս: "u",
  // Cherokee
  Ꭺ: "a",
  Ᏼ: "b",
  Ꮯ: "c",
  Ꭼ: "e",
  Ꮋ: "h",
  Ꭻ: "j",
  Ꮶ: "k",
  Ꮮ: "l",
  Ꮇ: "m",
  Ꮲ: "p",
  Ꮪ: "s",
  Ꭲ: "t",
  // Latin extended and IPA
  ı: "i",
  ȷ: "j",
  ɑ: "a",
  ɡ: "g",
  ɩ: "i",
  ʋ: "v",
  ʏ: "y",
  ᴏ: "o",
  ᴄ: "c",
  ᴠ: "v",
  ᴡ: "w",
  ᴢ: "z",
  ƅ: "b",
  Ƅ: "b",
  ɓ: "b",
  ƀ: "b",
  // Digits and capitals that pass for letters
  "0": "o",
  "1": "l",
  I: "l",
  "5": "s",
};

/** Default-ignorable code points (Unicode `DerivedCoreProperties.txt`) and combining marks. */
const INVISIBLE =
  // Marks (\p{M}) cover the variation selectors, Mongolian and Khmer invisible marks; listed here
  // are the default-ignorable code points that are formats or letters.
  /[\p{M}\u00AD\u061C\u115F\u1160\u180E\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFEFF\uFFA0\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E007F}]/gu;

/**
 * The text's skeleton: two strings that look alike have the same one.
 *
 * @param text Any text.
 * @returns Its skeleton (see the module's steps).
 *
 * @example
 * ```ts
 * import { skeleton } from "./_confusables.ts";
 * skeleton("bоt"); // "bot": the "о" is Cyrillic
 * skeleton("B\u200BOT"); // "bot"
 * ```
 */
export function skeleton(text: string): string {
  let out = "";
  for (const char of text.normalize("NFKD").replace(INVISIBLE, "").normalize("NFKC")) {
    out += CONFUSABLES[char] ?? char;
  }
  return out.toLowerCase();
}

/**
 * Whether `text` would show nothing: only white space and default-ignorable code points (a name
 * of Hangul fillers `ㅤ`, a message of zero-width spaces).
 *
 * @example
 * ```ts
 * import { isInvisible } from "./_confusables.ts";
 * isInvisible("ㅤㅤ"); // true
 * isInvisible("민수"); // false
 * ```
 */
export function isInvisible(text: string): boolean {
  return text.replace(INVISIBLE, "").trim() === "";
}
