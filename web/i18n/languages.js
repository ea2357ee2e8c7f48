// The page's languages: one line per file in this folder, exported under the primary language
// subtag that navigator.languages gives (ko for ko-KR). A language's file without its line here is
// never loaded (test/i18n.test.ts fails then).
export { default as en } from "./en.js";
export { default as ko } from "./ko.js";
