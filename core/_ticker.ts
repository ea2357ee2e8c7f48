/**
 * Private: one timer for many streams. Every push stream that needs heartbeats or a write
 * deadline joins the group of its tick interval; each group has a single `setInterval` that runs
 * only while the group has members, so a server with 10 000 open streams has one heartbeat timer,
 * not 10 000. Streams count ticks instead of reading a clock on every write.
 *
 * @module
 */

/** A member of a tick group. */
export interface Ticking {
  tick(): void;
}

const groups = new Map<number, { timer: ReturnType<typeof setInterval>; members: Set<Ticking> }>();

/**
 * Calls `member.tick()` every `ms` milliseconds until the returned function is called.
 *
 * @param ms The interval; members with the same interval share one timer.
 * @param member What to tick.
 * @returns Leaves the group (the timer stops with its last member). Idempotent.
 *
 * @example
 * ```ts
 * import { joinTicks } from "./_ticker.ts";
 * const leave = joinTicks(1000, { tick: () => console.log("tick") });
 * leave();
 * ```
 */
export function joinTicks(ms: number, member: Ticking): () => void {
  let group = groups.get(ms);
  if (group === undefined) {
    const members = new Set<Ticking>();
    const timer = setInterval(() => {
      for (const each of members) each.tick();
    }, ms);
    group = { timer, members };
    groups.set(ms, group);
  }
  const joined = group;
  joined.members.add(member);
  return () => {
    if (!joined.members.delete(member) || joined.members.size > 0) return;
    clearInterval(joined.timer);
    if (groups.get(ms) === joined) groups.delete(ms);
  };
}
