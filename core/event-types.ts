/**
 * A stream's event types, declared once and used on both ends: {@link defineEvents} maps each
 * event name to the codec of its payload, the server frames with `encode`, the client reads with
 * `decode`, and TypeScript checks that what one side writes is what the other reads.
 *
 * In the event stream format an event's type is its `event:` field, and a dispatched event whose
 * type buffer is empty gets the type `message` ("dispatch the event" step). So `message` is
 * encoded without an `event:` field: the same bytes a browser's `onmessage` receives.
 *
 * @module
 */
import type { EventMessage, ServerSentEvent } from "./types.ts";

/**
 * How one event type's payload becomes `data` text and back.
 *
 * @example A codec for numbers
 * ```ts
 * import type { EventCodec } from "./mod.ts";
 * const count: EventCodec<number> = { encode: String, decode: Number };
 * ```
 */
export type EventCodec<T> = {
  /** The payload as the event's `data` (it may contain line breaks: the framing splits them). */
  encode(payload: T): string;
  /** The event's `data` back as the payload; throws if it is not one. */
  decode(data: string): T;
};

/** The payload type of a codec. */
export type PayloadOf<C> = C extends EventCodec<infer T> ? T : never;

/**
 * Event names mapped to their payload codecs.
 *
 * @example
 * ```ts
 * import { json, type EventSchema } from "./mod.ts";
 * const schema = { tick: json<{ n: number }>() } satisfies EventSchema;
 * ```
 */
export type EventSchema = Readonly<Record<string, AnyCodec>>;

/** A codec of some payload type: what a schema's values must be (`never` in, so any `T` fits). */
type AnyCodec = { encode(payload: never): string; decode(data: string): unknown };

/**
 * One event of a schema, as a client reads it: its declared `type`, its decoded `data`, and the
 * stream's last event ID when it was dispatched. A union over the schema's names, so a `switch`
 * on `type` narrows `data`.
 *
 * @example
 * ```ts
 * import { json, type TypedEvent } from "./mod.ts";
 * const schema = { tick: json<{ n: number }>() };
 * const event: TypedEvent<typeof schema> = { type: "tick", data: { n: 1 }, lastEventId: "" };
 * ```
 */
export type TypedEvent<S extends EventSchema> = {
  [K in keyof S & string]: { readonly type: K; readonly data: PayloadOf<S[K]>; readonly lastEventId: string };
}[keyof S & string];

/**
 * Fields an encoded event may carry besides its type and data.
 *
 * @example
 * ```ts
 * import type { EncodeFields } from "./mod.ts";
 * const fields: EncodeFields = { id: "42", retry: 3000 };
 * ```
 */
export type EncodeFields = Pick<EventMessage, "id" | "retry">;

/**
 * A declared set of event types: encode on the server, decode on the client.
 *
 * @example
 * ```ts
 * import { defineEvents, json, type EventCodec, type EventTypes } from "./mod.ts";
 * const ticks: EventTypes<{ tick: EventCodec<number> }> = defineEvents({ tick: json<number>() });
 * ```
 */
export type EventTypes<S extends EventSchema> = {
  /** The declaration itself. */
  readonly schema: S;
  /** The declared event names, in declaration order. */
  readonly names: readonly (keyof S & string)[];
  /**
   * The message to frame (`encodeEvent`, `EncodedEvent`, any stream) for one event.
   *
   * @throws {TypeError} For a name the schema does not declare.
   */
  encode<K extends keyof S & string>(type: K, payload: PayloadOf<S[K]>, fields?: EncodeFields): EventMessage;
  /**
   * A received event decoded by its type's codec, or `undefined` for a type the schema does not
   * declare (a newer server may send more types than an older client knows).
   *
   * @throws {TypeError} When a declared type's data does not decode, naming the type.
   */
  decode(event: Pick<ServerSentEvent, "type" | "data" | "lastEventId">): TypedEvent<S> | undefined;
};

/**
 * A JSON payload codec. Without `check`, decoding trusts the sender's type (the declaration is
 * shared, so both ends agree at compile time); with it, each decoded value is checked at run time.
 *
 * @param check Throws (or returns `false`) for a value that is not a `T`.
 * @returns The codec.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { json } from "./mod.ts";
 * const point = json<{ x: number }>((value) => typeof (value as { x?: unknown }).x === "number");
 * assert.equal(point.encode({ x: 1 }), '{"x":1}');
 * assert.deepEqual(point.decode('{"x":1}'), { x: 1 });
 * assert.throws(() => point.decode('{"y":1}'), TypeError);
 * ```
 */
export function json<T>(check?: (value: unknown) => boolean): EventCodec<T> {
  if (check !== undefined && typeof check !== "function") {
    throw new TypeError(`json(check): "check" must be a function, received ${typeof check}`);
  }
  return {
    encode: (payload) => JSON.stringify(payload),
    decode(data) {
      const value: unknown = JSON.parse(data);
      if (check !== undefined && check(value) === false) {
        throw new TypeError(`JSON payload does not pass its check: ${data.slice(0, 80)}`);
      }
      return value as T;
    },
  };
}

/**
 * Declares a stream's event types once, for both ends.
 *
 * @param schema Each event name mapped to its payload codec (e.g. {@link json}). Names must be
 *   valid `event:` values: non-empty, without CR, LF or NUL.
 * @returns `encode` for the server, `decode` for the client.
 * @throws {TypeError} For a bad name or a codec without `encode`/`decode`.
 *
 * @example Both ends of a price feed
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineEvents, encodeEvent, json } from "./mod.ts";
 * const feed = defineEvents({
 *   price: json<{ symbol: string; cents: number }>(),
 *   halted: json<{ symbol: string }>(),
 * });
 * // Server: a type error if the payload does not fit "price".
 * const frame = encodeEvent(feed.encode("price", { symbol: "EDY", cents: 4200 }, { id: "7" }));
 * assert.equal(frame, 'event: price\nid: 7\ndata: {"symbol":"EDY","cents":4200}\n\n');
 * // Client: `data` is typed by `type`.
 * const event = feed.decode({ type: "price", data: '{"symbol":"EDY","cents":4200}', lastEventId: "7" });
 * if (event?.type === "price") assert.equal(event.data.cents, 4200);
 * ```
 */
export function defineEvents<const S extends EventSchema>(schema: S): EventTypes<S> {
  if (typeof schema !== "object" || schema === null) {
    throw new TypeError(
      `defineEvents(schema): "schema" must be an object, received ${schema === null ? "null" : typeof schema}`,
    );
  }
  const names = Object.keys(schema) as (keyof S & string)[];
  for (const name of names) {
    if (name === "" || /[\r\n\0]/.test(name)) {
      throw new TypeError(`defineEvents(schema): ${JSON.stringify(name)} is not an event type (empty, CR, LF or NUL)`);
    }
    const codec = schema[name] as Partial<AnyCodec> | undefined;
    if (typeof codec?.encode !== "function" || typeof codec.decode !== "function") {
      throw new TypeError(`defineEvents(schema): ${JSON.stringify(name)} needs a codec with encode and decode`);
    }
  }
  const codecs = new Map<string, EventCodec<unknown>>(names.map((name) => [name, schema[name] as EventCodec<unknown>]));
  return {
    schema,
    names,
    encode(type, payload, fields) {
      const codec = codecs.get(type);
      if (codec === undefined) throw new TypeError(`encode: ${JSON.stringify(type)} is not a declared event type`);
      const message: EventMessage = { data: codec.encode(payload) };
      // The default type: no `event:` line, as a receiver reads an empty type buffer as "message".
      if (type !== "message") message.event = type;
      if (fields?.id !== undefined) message.id = fields.id;
      if (fields?.retry !== undefined) message.retry = fields.retry;
      return message;
    },
    decode(event) {
      const codec = codecs.get(event.type);
      if (codec === undefined) return undefined;
      let data: unknown;
      try {
        data = codec.decode(event.data);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new TypeError(`decode: the data of a ${JSON.stringify(event.type)} event does not decode: ${reason}`, {
          cause: error,
        });
      }
      return { type: event.type, data, lastEventId: event.lastEventId } as TypedEvent<S>;
    },
  };
}
