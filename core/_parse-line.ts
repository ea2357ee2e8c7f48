/**
 * The spec's *parsing an event stream*, per line: comment, `field:value`, or a blank line.
 * It slices values straight out of the decoded text (no intermediate line string) and hands
 * them to a {@link FieldSink}; interpretation happens there.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * @module
 */
import type { FieldSink } from "./_interpret.ts";

const COLON = 0x3a;
const SPACE = 0x20;

/**
 * Processes the line `text[start, end)` (its terminator excluded).
 * Internal: `createParser` drives it.
 */
export function parseLine(text: string, start: number, end: number, sink: FieldSink): void {
  // Fast path for the field that dominates real streams, kept small so engines inline it.
  if (
    end - start >= 5 &&
    text.charCodeAt(start) === 0x64 &&
    text.charCodeAt(start + 4) === COLON &&
    text.charCodeAt(start + 1) === 0x61 &&
    text.charCodeAt(start + 2) === 0x74 &&
    text.charCodeAt(start + 3) === 0x61
  ) {
    sink.data(text.slice(valueStart(text, start + 5, end), end));
  } else {
    parseOtherLine(text, start, end, sink);
  }
}

function parseOtherLine(text: string, start: number, end: number, sink: FieldSink): void {
  // HTML §9.2.6: an empty line dispatches the event.
  if (start === end) return sink.dispatch();
  const first = text.charCodeAt(start);
  // A line starting with U+003A COLON is a comment (we drop one leading space, like a value).
  if (first === COLON) {
    let from = start + 1;
    if (from < end && text.charCodeAt(from) === SPACE) from++;
    return sink.comment(text.slice(from, end));
  }
  // The field name runs to the first colon. A line with no colon is a field whose name is the
  // whole line and whose value is the empty string.
  let colon = start;
  while (colon < end && text.charCodeAt(colon) !== COLON) colon++;
  const value = colon === end ? "" : text.slice(valueStart(text, colon + 1, end), end);
  // Field names are compared exactly (case-sensitive); unknown names are ignored.
  switch (colon - start) {
    case 2:
      if (first === 0x69 && text.charCodeAt(start + 1) === 0x64) sink.id(value);
      return;
    case 4:
      if (first === 0x64 && text.startsWith("data", start)) sink.data(value);
      return;
    case 5:
      if (first === 0x65 && text.startsWith("event", start)) sink.event(value);
      else if (first === 0x72 && text.startsWith("retry", start)) sink.retry(value);
      return;
  }
}

// "If value starts with a U+0020 SPACE character, remove it from value" (exactly one).
function valueStart(text: string, from: number, end: number): number {
  return from < end && text.charCodeAt(from) === SPACE ? from + 1 : from;
}
