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
 * Calls `member.tick()` every `ms` milliseconds until {@link leaveTicks} is called with the same
 * `ms`. (A pair of calls rather than a returned "leave" function: no closure per member.)
 *
 * @param ms The interval; members with the same interval share one timer.
 * @param member What to tick.
 *
 * @example
 * ```ts
 * import { joinTicks, leaveTicks } from "./_ticker.ts";
 * const member = { tick: () => console.log("tick") };
 * joinTicks(1000, member);
 * leaveTicks(1000, member);
 * ```
 */
export function joinTicks(ms: number, member: Ticking): void {
  let group = groups.get(ms);
  if (group === undefined) {
    const members = new Set<Ticking>();
    const timer = setInterval(() => {
      for (const each of members) each.tick();
    }, ms);
    group = { timer, members };
    groups.set(ms, group);
  }
  group.members.add(member);
}

/**
 * Stops ticking `member` (the timer stops with its group's last member). Idempotent.
 *
 * @param ms The interval it joined with.
 * @param member What {@link joinTicks} was given.
 *
 * @example
 * ```ts
 * import { joinTicks, leaveTicks } from "./_ticker.ts";
 * const member = { tick: () => {} };
 * joinTicks(250, member);
 * leaveTicks(250, member);
 * leaveTicks(250, member); // nothing: it already left
 * ```
 */
export function leaveTicks(ms: number, member: Ticking): void {
  const group = groups.get(ms);
  if (group === undefined || !group.members.delete(member) || group.members.size > 0) return;
  clearInterval(group.timer);
  groups.delete(ms);
}
