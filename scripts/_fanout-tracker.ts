/**
 * Private to `scripts/bench-fanout.ts`: the ledger of every (connection, message) pair.
 *
 * Connection `c` subscribes to room `c % rooms`; message `seq` is published to room `seq % rooms`,
 * so each connection expects `messages / rooms` messages, at slots `c * perRoom + ⌊seq / rooms⌋` of
 * one byte each: 0 = not (yet) arrived, 1 = arrived once, more = duplicates. Lost and duplicate
 * counts are therefore exact, per pair, not inferred from totals. The first arrival of each pair
 * also records its latency (receipt time − scheduled send time, µs).
 *
 * @module
 */
import { WARMUP_SEQ } from "./_fanout-message.ts";

export class DeliveryTracker {
  readonly connections: number;
  readonly rooms: number;
  readonly messages: number;
  /** Messages each connection expects (`messages / rooms`). */
  readonly perRoom: number;
  readonly #slots: Uint8Array;
  /** Latency of each first arrival, µs, in arrival order. */
  readonly latencies: Float32Array;
  delivered = 0;
  duplicates = 0;
  /** Events that carried a seq this connection should never see (wrong room, out of range). */
  unexpected = 0;
  /** Warm-up messages received, per connection. */
  readonly warm: Uint16Array;
  /** Receipt time of the first and of the latest first arrival (µs), 0 before any. */
  firstDeliveryUs = 0;
  lastDeliveryUs = 0;

  constructor(connections: number, rooms: number, messages: number) {
    if (messages % rooms !== 0) throw new RangeError(`messages (${messages}) must be a multiple of rooms (${rooms})`);
    this.connections = connections;
    this.rooms = rooms;
    this.messages = messages;
    this.perRoom = messages / rooms;
    this.#slots = new Uint8Array(connections * this.perRoom);
    this.latencies = new Float32Array(connections * this.perRoom);
    this.warm = new Uint16Array(connections);
  }

  /** One message event arrived on connection `conn`. */
  record(conn: number, seq: number, sentUs: number, receivedUs: number): void {
    if (seq >= WARMUP_SEQ) {
      this.warm[conn]!++;
      return;
    }
    if (seq >= this.messages || seq % this.rooms !== conn % this.rooms) {
      this.unexpected++;
      return;
    }
    const slot = conn * this.perRoom + Math.floor(seq / this.rooms);
    const seen = this.#slots[slot]!;
    if (seen === 0) {
      if (this.delivered === 0) this.firstDeliveryUs = receivedUs;
      this.latencies[this.delivered++] = receivedUs - sentUs;
      this.lastDeliveryUs = receivedUs;
    } else {
      this.duplicates++;
    }
    if (seen < 255) this.#slots[slot] = seen + 1;
  }

  /** Pairs not (yet) arrived, over the connections for which `counted(conn)` is true. */
  missing(counted: (conn: number) => boolean): number {
    let missing = 0;
    for (let conn = 0; conn < this.connections; conn++) {
      if (!counted(conn)) continue;
      const base = conn * this.perRoom;
      for (let i = 0; i < this.perRoom; i++) if (this.#slots[base + i] === 0) missing++;
    }
    return missing;
  }
}
