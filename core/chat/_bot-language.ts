/**
 * Private: which language the bot answers in. The bot speaks English and Korean (this chat's first
 * users write Korean); a question written in Hangul gets Korean, and so does one whose asker's
 * browser prefers Korean (`Accept-Language`); anything else gets English.
 *
 * @module
 */

/**
 * A language the built-in bot and the reply runner's notes are written in.
 *
 * @example
 * ```ts
 * import type { BotLanguage } from "./_bot-language.ts";
 * const language: BotLanguage = "ko";
 * ```
 */
export type BotLanguage = "en" | "ko";

/** Hangul syllables, jamo and compatibility jamo. */
const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/;

/** A language tag as `Accept-Language` carries it (RFC 9110, "Accept-Language"; RFC 4647's ranges). */
const TAG = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

/**
 * The language to answer `text` in, for an asker who prefers `language` (a BCP 47 tag, if known).
 *
 * @param text The question, as posted.
 * @param language The asker's preferred language, e.g. `ko-KR`.
 * @returns `ko` for a question in Hangul or an asker who prefers Korean, else `en`.
 *
 * @example
 * ```ts
 * import { botLanguage } from "./_bot-language.ts";
 * botLanguage("/bot 시간", undefined); // "ko"
 * botLanguage("/bot time", "ko-KR"); // "ko"
 * botLanguage("/bot time", "en-US"); // "en"
 * ```
 */
export function botLanguage(text: string, language: string | undefined): BotLanguage {
  if (HANGUL.test(text)) return "ko";
  return language?.toLowerCase().split("-")[0] === "ko" ? "ko" : "en";
}

/**
 * The language a request's `Accept-Language` header prefers most: the range with the highest
 * weight (the first of equals), skipping `*` and weight 0. Malformed entries are ignored, and
 * the header is read only up to its first 1 000 characters.
 *
 * @param header The header's value, if any.
 * @returns The tag, e.g. `ko-KR`, or `undefined` when the header names none.
 *
 * @example
 * ```ts
 * import { preferredLanguage } from "./_bot-language.ts";
 * preferredLanguage("en;q=0.5, ko-KR, ko;q=0.9"); // "ko-KR"
 * preferredLanguage("*"); // undefined
 * ```
 */
export function preferredLanguage(header: string | null): string | undefined {
  if (header === null) return undefined;
  let best: string | undefined;
  let bestWeight = 0;
  for (const entry of header.slice(0, 1000).split(",")) {
    const [range = "", ...parameters] = entry.split(";").map((part) => part.trim());
    if (range.length > 35 || !TAG.test(range)) continue; // 35: the longest tag worth naming (RFC 5646)
    let weight = 1;
    for (const parameter of parameters) {
      if (!/^q=/i.test(parameter)) continue;
      const match = /^q=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/i.exec(parameter);
      weight = match === null ? 0 : Number(match[1]); // a weight that is not one counts for nothing
    }
    if (weight > bestWeight) {
      best = range;
      bestWeight = weight;
    }
  }
  return best;
}
