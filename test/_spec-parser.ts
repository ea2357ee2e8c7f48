/**
 * The test oracle: a slow, literal transcription of the WHATWG HTML standard's event stream
 * parsing and interpretation, written without looking at (or importing) core/. It works on the
 * whole byte stream at once, so it has no chunking state at all: any difference between it and
 * the real parser on the same bytes is a bug in one of them.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
 * @module
 */

/** One dispatched event, as a browser's `MessageEvent` would carry it. */
type SpecEvent = { type: string; data: string; lastEventId: string };

/** Everything the oracle observes for one complete stream. */
export type SpecResult = {
  /** The dispatched events, in order. */
  events: SpecEvent[];
  /** Each reconnection time set by a valid `retry` field, in order. */
  retries: number[];
  /** Each comment line's text after the colon, one leading space removed (not in the spec: ignored there). */
  comments: string[];
  /** The event source's "last event ID string" when the stream ends. */
  lastEventId: string;
};

/** Parses a complete event stream exactly as the spec describes it. */
export function specParse(bytes: Uint8Array): SpecResult {
  // "Streams must be decoded using the UTF-8 decode algorithm." That algorithm replaces invalid
  // bytes with U+FFFD and strips one leading UTF-8 BOM: exactly what a default TextDecoder
  // (label "utf-8", fatal false, ignoreBOM false) does, here over all the bytes in one go.
  const text = new TextDecoder().decode(bytes);
  return specParseText(text);
}

/** The same, for a stream that is already decoded (and whose BOM, if any, is already gone). */
export function specParseText(text: string): SpecResult {
  const result: SpecResult = { events: [], retries: [], comments: [], lastEventId: "" };

  // "When a stream is parsed, a data buffer, an event type buffer, and a last event ID buffer
  // must be associated with it. They must be initialized to the empty string."
  let dataBuffer = "";
  let eventTypeBuffer = "";
  let lastEventIdBuffer = "";

  const dispatch = (): void => {
    // 1. Set the last event ID string of the event source to the value of the last event ID
    //    buffer. (The buffer is not reset.)
    result.lastEventId = lastEventIdBuffer;
    // 2. If the data buffer is an empty string, set the data buffer and the event type buffer
    //    to the empty string and return.
    if (dataBuffer === "") {
      dataBuffer = "";
      eventTypeBuffer = "";
      return;
    }
    // 3. If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove
    //    the last character from the data buffer.
    if (dataBuffer.endsWith("\n")) dataBuffer = dataBuffer.slice(0, -1);
    // 4.-6. Create the event: type "message" unless the event type buffer is non-empty, its data
    //    the data buffer, its lastEventId the last event ID string of the event source.
    result.events.push({
      type: eventTypeBuffer === "" ? "message" : eventTypeBuffer,
      data: dataBuffer,
      lastEventId: result.lastEventId,
    });
    // 7. Set the data buffer and the event type buffer to the empty string.
    dataBuffer = "";
    eventTypeBuffer = "";
  };

  const processField = (field: string, value: string): void => {
    // "The steps to process the field given a field name and a field value depend on the field
    // name, as given in the following list. Field names must be compared literally, with no
    // case folding performed."
    if (field === "event") {
      // "Set the event type buffer to the field value."
      eventTypeBuffer = value;
    } else if (field === "data") {
      // "Append the field value to the data buffer, then append a single U+000A LINE FEED (LF)
      // character to the data buffer."
      dataBuffer += value + "\n";
    } else if (field === "id") {
      // "If the field value does not contain U+0000 NULL, then set the last event ID buffer to
      // the field value. Otherwise, ignore the field."
      if (!value.includes("\u0000")) lastEventIdBuffer = value;
    } else if (field === "retry") {
      // "If the field value consists of only ASCII digits, then interpret the field value as an
      // integer in base ten, and set the event stream's reconnection time to that integer.
      // Otherwise, ignore the field." (An empty value has no digits: browsers ignore it.)
      if (/^[0-9]+$/.test(value)) result.retries.push(Number.parseInt(value, 10));
    }
    // "Otherwise: The field is ignored."
  };

  const processLine = (line: string): void => {
    if (line === "") {
      // "If the line is empty (a blank line): Dispatch the event, as defined below."
      dispatch();
    } else if (line.startsWith(":")) {
      // "If the line starts with a U+003A COLON character (:): Ignore the line."
      const comment = line.slice(1);
      result.comments.push(comment.startsWith(" ") ? comment.slice(1) : comment);
    } else if (line.includes(":")) {
      // "If the line contains a U+003A COLON character (:): Collect the characters on the line
      // before the first U+003A COLON character (:), and let field be that string. Collect the
      // characters on the line after the first U+003A COLON character (:), and let value be that
      // string. If value starts with a U+0020 SPACE character, remove it from value. Process the
      // field using the steps described below, using field as the field name and value as the
      // field value."
      const colon = line.indexOf(":");
      const field = line.slice(0, colon);
      let value = line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      processField(field, value);
    } else {
      // "Otherwise, the string is not empty but does not contain a U+003A COLON character (:):
      // Process the field using the steps described below, using the whole line as the field
      // name, and the empty string as the field value."
      processField(line, "");
    }
  };

  // "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
  // character pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE
  // RETURN (CR) character." Only terminated lines are lines: text after the last terminator is
  // an unfinished line, and "once the end of the file is reached, any pending data must be
  // discarded" (an event without its blank line is not dispatched).
  let line = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\r") {
      processLine(line);
      line = "";
      if (text[i + 1] === "\n") i++; // CRLF is one line end
    } else if (c === "\n") {
      processLine(line);
      line = "";
    } else {
      line += c;
    }
  }
  return result;
}

/** The sizes a parser's `maxEventSize` bounds, as the spec text of a whole stream has them. */
export type SpecSizes = {
  /** The longest line in UTF-16 code units, its terminator excluded (an unterminated last line included). */
  longestLine: number;
  /** The largest data buffer in UTF-16 code units, without the LF that dispatch would remove. */
  largestData: number;
};

/**
 * Measures a complete stream the way {@link specParse} reads it: the smallest `maxEventSize` a
 * parser needs to read it without an {@link EventStreamSizeError}, whatever the chunking (a
 * pending line or data buffer is never more than these).
 */
export function specSizes(bytes: Uint8Array): SpecSizes {
  const text = new TextDecoder().decode(bytes);
  const lines = text.split(/\r\n|\r|\n/);
  let longestLine = 0;
  let largestData = 0;
  let data = -1; // the data buffer's length without its last LF; -1 for the empty buffer
  for (const [index, line] of lines.entries()) {
    longestLine = Math.max(longestLine, line.length);
    // The text after the last line end is no line, only its length is held.
    if (index === lines.length - 1) break;
    if (line === "") {
      data = -1;
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    if (field !== "data") continue;
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    data = data === -1 ? value.length : data + 1 + value.length;
    largestData = Math.max(largestData, data);
  }
  return { longestLine, largestData };
}
