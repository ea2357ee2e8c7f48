/**
 * Runs each of the three parser entry points over a list of chunks and records everything it
 * reports, so tests can compare entry points, chunkings and the spec oracle.
 *
 * @module
 */
import {
  createParser,
  type EventMessage,
  EventStreamParser,
  parseEventStream,
  type ParserOptions,
  type ServerSentEvent,
} from "../core/mod.ts";
import { EventInterpreter } from "../core/_interpret.ts";
import { LineSplitter, type Race } from "../core/_lines.ts";
import { DEFAULT_MAX_EVENT_SIZE } from "../core/create-parser.ts";

/** What a parser reported over one whole stream. */
export type Observed = {
  events: ServerSentEvent[];
  retries: number[];
  comments: string[];
};

/** {@link Observed} plus the push parser's `lastEventId` after `end()`. */
export type PushObserved = Observed & { lastEventId: string };

type Chunk = Uint8Array | string;

/** Feeds `chunks` to one `createParser`, then ends it. */
export function runPush(
  chunks: Iterable<Chunk>,
  options: Omit<ParserOptions, "onRetry" | "onComment"> = {},
): PushObserved {
  const seen: Observed = { events: [], retries: [], comments: [] };
  const parser = createParser({
    ...options,
    onEvent: (event) => seen.events.push(event),
    onRetry: (ms) => seen.retries.push(ms),
    onComment: (comment) => seen.comments.push(comment),
  });
  for (const chunk of chunks) parser.feed(chunk);
  parser.end();
  return { ...seen, lastEventId: parser.lastEventId };
}

/**
 * A decoder race that follows a script instead of timings (cycled; `true` is the one-shot
 * decoder), so that a test can make each decoder, and every switch between them, meet the text.
 */
export function scriptedRace(script: readonly boolean[]): Race & { readonly turns: number } {
  let turn = 0;
  return {
    oneShotNext: () => script[turn % script.length]!,
    get oneShotWins() {
      return script[turn % script.length]!;
    },
    trying: true, // every decode is timed and recorded: each advances the script
    record() {
      turn++;
    },
    get turns() {
      return turn;
    },
  };
}

/** {@link runPush} with the line layer built by hand around `race`, as `createParser` builds it. */
export function runLines(chunks: Iterable<Chunk>, race: Race, maxEventSize = DEFAULT_MAX_EVENT_SIZE): PushObserved {
  const seen: Observed = { events: [], retries: [], comments: [] };
  const interpreter = new EventInterpreter(
    (event) => seen.events.push(event),
    (ms) => seen.retries.push(ms),
    (comment) => seen.comments.push(comment),
    maxEventSize,
  );
  const lines = new LineSplitter(interpreter, maxEventSize, race);
  for (const chunk of chunks) lines.push(chunk);
  lines.end();
  interpreter.discardPending();
  return { ...seen, lastEventId: interpreter.lastEventId };
}

/** Pipes `chunks` through an `EventStreamParser` and collects its output. */
export async function runStream(
  chunks: readonly Chunk[],
  options: Omit<ParserOptions, "onRetry" | "onComment"> = {},
): Promise<Observed> {
  const seen: Observed = { events: [], retries: [], comments: [] };
  const parser = new EventStreamParser({
    ...options,
    onRetry: (ms) => seen.retries.push(ms),
    onComment: (comment) => seen.comments.push(comment),
  });
  seen.events = await collect(streamOf(chunks).pipeThrough(parser));
  return seen;
}

/** Iterates `parseEventStream` over a stream of `chunks` and collects its output. */
export async function runIterate(
  chunks: readonly Uint8Array[],
  options: Omit<ParserOptions, "onRetry" | "onComment"> = {},
): Promise<Observed> {
  const seen: Observed = { events: [], retries: [], comments: [] };
  const events = parseEventStream(streamOf(chunks), {
    ...options,
    onRetry: (ms) => seen.retries.push(ms),
    onComment: (comment) => seen.comments.push(comment),
  });
  seen.events = await collect(events);
  return seen;
}

/** Collects an async iterable into an array (`Array.fromAsync` is missing from Node 20). */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of iterable) items.push(item);
  return items;
}

/** A `ReadableStream` that yields `chunks` in order, one per pull. */
export function streamOf<T>(chunks: readonly T[]): ReadableStream<T> {
  let index = 0;
  return new ReadableStream<T>(
    {
      pull(controller) {
        if (index < chunks.length) controller.enqueue(chunks[index++]!);
        else controller.close();
      },
    },
    { highWaterMark: 0 },
  );
}

/** A `message` event, the common expectation in rule tests. */
export function message(data: string, lastEventId = ""): ServerSentEvent {
  return { type: "message", data, lastEventId };
}

// What the bytes of a string say after UTF-8 encoding: each lone surrogate becomes U+FFFD.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `text` as it reads after a trip through UTF-8: each lone surrogate becomes U+FFFD. */
export const wellFormed = (text: string): string => text.replace(LONE_SURROGATE, "\ufffd");

/** Multi-line `text` as a client reads it back: well-formed, with CRLF and CR turned into LF. */
export const lines = (text: string): string => wellFormed(text).replace(/\r\n?/g, "\n");

/**
 * The events a client must see for encoded `messages`, worked out from the messages alone: one
 * per message with data, its type (default `message`), its data with line ends as LF, and the
 * last id written so far.
 */
export function expectedEvents(messages: readonly EventMessage[]): ServerSentEvent[] {
  const events: ServerSentEvent[] = [];
  let lastEventId = "";
  for (const { data, event, id } of messages) {
    if (id !== undefined) lastEventId = wellFormed(id);
    // A message without data writes a blank line, but the spec dispatches nothing for it.
    if (data === undefined) continue;
    events.push({
      type: event === undefined || event === "" ? "message" : wellFormed(event),
      data: lines(data),
      lastEventId,
    });
  }
  return events;
}
