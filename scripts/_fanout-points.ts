/**
 * Private to `scripts/bench-fanout.ts`: the load points of the issue, at full size and at the
 * `--quick` smoke size, and the per-phase time bounds that keep a run finite.
 *
 * @module
 */

export type Point = {
  name: string;
  title: string;
  connections: number;
  /** Connections spread evenly: connection c subscribes to room c % rooms. */
  rooms: number;
  /** Messages per second, all rooms together. */
  rate: number;
  /** Measured messages, all rooms together (a multiple of `rooms`). */
  messages: number;
};

/** Full size: about 5 s of publishing each (the burst: half a second). */
const FULL: Point[] = [
  { name: "1k-40", title: "1 000 connections × 40 msg/s", connections: 1000, rooms: 1, rate: 40, messages: 200 },
  { name: "10k-5", title: "10 000 connections × 5 msg/s", connections: 10_000, rooms: 1, rate: 5, messages: 30 },
  {
    name: "burst",
    title: "burst: 1 000 connections × 1 000 msg/s",
    connections: 1000,
    rooms: 1,
    rate: 1000,
    messages: 500,
  },
  {
    name: "rooms",
    title: "100 rooms × 100 subscribers, 400 msg/s in all (4 per room)",
    connections: 10_000,
    rooms: 100,
    rate: 400,
    messages: 2000,
  },
];

/** `--quick`: the same shapes, small, about a second of publishing each. */
const QUICK: Point[] = [
  { name: "1k-40", title: "quick: 200 connections × 40 msg/s", connections: 200, rooms: 1, rate: 40, messages: 40 },
  { name: "10k-5", title: "quick: 1 000 connections × 5 msg/s", connections: 1000, rooms: 1, rate: 5, messages: 5 },
  {
    name: "burst",
    title: "quick: 200 connections × 1 000 msg/s",
    connections: 200,
    rooms: 1,
    rate: 1000,
    messages: 200,
  },
  {
    name: "rooms",
    title: "quick: 10 rooms × 20 subscribers, 100 msg/s",
    connections: 200,
    rooms: 10,
    rate: 100,
    messages: 100,
  },
];

export const POINT_NAMES = FULL.map((point) => point.name);

export function points(quick: boolean): Point[] {
  return quick ? QUICK : FULL;
}

/** Time bounds of one load-generator run (ms), besides the publishing itself. */
export function bounds(quick: boolean) {
  return {
    connectTimeoutMs: quick ? 10_000 : 20_000,
    subscribeTimeoutMs: quick ? 5000 : 10_000,
    settleMs: quick ? 300 : 1000,
    warmupTimeoutMs: quick ? 2000 : 5000,
    drainIdleMs: quick ? 2000 : 3000,
    drainMaxMs: quick ? 5000 : 15_000,
  };
}
