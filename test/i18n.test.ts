/**
 * The chat page's UI strings (web/i18n/): every language file has exactly English's keys, each of
 * the same kind (text, a function taking as many values, or a table of the same keys); every
 * file in the folder is listed in languages.js; every data-i18n key of index.html exists. Plain
 * Node: the language files are modules without browser globals.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const I18N = new URL("../web/i18n/", import.meta.url);

type Strings = Record<string, unknown>;

/** A language file's strings (its default export). */
async function load(file: string): Promise<Strings> {
  const module = (await import(new URL(file, I18N).href)) as { default: Strings };
  return module.default;
}

/** What differs between a language's strings and English's, as "key: problem" lines (none: they match). */
function keyDifferences(reference: Strings, other: Strings, prefix = ""): string[] {
  const problems: string[] = [];
  for (const key of Object.keys(reference)) {
    const name = `${prefix}${key}`;
    if (!Object.hasOwn(other, key)) {
      problems.push(`${name}: missing`);
      continue;
    }
    const [want, got] = [reference[key], other[key]];
    const kind = (value: unknown) => (value === null ? "null" : typeof value);
    if (kind(want) !== kind(got)) problems.push(`${name}: ${kind(got)} instead of ${kind(want)}`);
    else if (typeof want === "function" && (want as () => unknown).length !== (got as () => unknown).length) {
      problems.push(`${name}: takes ${(got as () => unknown).length} values instead of ${want.length}`);
    } else if (typeof want === "object") problems.push(...keyDifferences(want as Strings, got as Strings, `${name}.`));
  }
  for (const key of Object.keys(other)) {
    if (!Object.hasOwn(reference, key)) problems.push(`${prefix}${key}: not in English`);
  }
  return problems;
}

const files = readdirSync(I18N)
  .filter((file) => file.endsWith(".js") && file !== "languages.js")
  .sort();
const english = await load("en.js");

describe("web/i18n", () => {
  it("has English and Korean", () => {
    expect(files).toEqual(expect.arrayContaining(["en.js", "ko.js"]));
  });

  it.each(files)("%s has exactly the keys of en.js, each of the same kind", async (file) => {
    const strings = await load(file);
    expect(keyDifferences(english, strings)).toEqual([]);
    // Every value is text, or gives text (functions are called with sample values: "2", "3").
    const texts = Object.values(strings).flatMap((value) =>
      typeof value === "function"
        ? [value(...Array.from({ length: value.length }, (_, index) => String(index + 2)))]
        : typeof value === "object" && value !== null
          ? Object.values(value)
          : [value],
    );
    for (const text of texts) expect(typeof text === "string" && text.trim() !== "", String(text)).toBe(true);
  });

  it("languages.js lists every file of the folder, under its name, and nothing else", async () => {
    const languages = (await import(new URL("languages.js", I18N).href)) as Strings;
    expect(Object.keys(languages).sort()).toEqual(files.map((file) => file.replace(/\.js$/, "")));
    for (const file of files) expect(languages[file.replace(/\.js$/, "")]).toBe(await load(file));
  });

  it("has every data-i18n key that web/index.html uses, as text", () => {
    const html = readFileSync(new URL("../index.html", I18N), "utf8");
    const keys = [...html.matchAll(/data-i18n(?:-[a-z]+)?="([^"]+)"/g)].map((match) => match[1] as string);
    expect(keys.length).toBeGreaterThan(5);
    for (const key of keys) expect(typeof english[key], key).toBe("string");
  });
});

describe("keyDifferences", () => {
  it("keyDifferences reports a missing key, an extra key, a wrong kind, arity and a nested key", () => {
    expect(keyDifferences(english, { ...english })).toEqual([]);
    const { send: _send, ...withoutSend } = english;
    expect(keyDifferences(english, withoutSend)).toEqual(["send: missing"]);
    expect(keyDifferences(english, { ...english, sned: "보내기" })).toEqual(["sned: not in English"]);
    expect(keyDifferences(english, { ...english, people: "3 people" })).toEqual(["people: string instead of function"]);
    expect(keyDifferences(english, { ...english, people: () => "people" })).toEqual([
      "people: takes 0 values instead of 1",
    ]);
    const { live: _live, ...status } = english.status as Strings;
    expect(keyDifferences(english, { ...english, status })).toEqual(["status.live: missing"]);
  });
});
