/**
 * Private to the hubs: who is in a room, for the `users` list of its `presence` events. Both hubs
 * keep one per room for their own subscribers; the Redis hub merges the lists other instances
 * store with {@link mergeUsers}.
 *
 * The list is bounded ({@link MAX_PRESENCE_USERS} people) and built by a single pass that keeps
 * only the first names in order, so a 10 000-person room costs one pass per presence event (which
 * `PresenceGate` already spaces out), never a sort of everyone.
 *
 * @module
 */
import { MAX_PRESENCE_USERS, type Person, type PresenceUser } from "./hub.ts";

/**
 * The named people subscribed to one room. A person is a user id; one with several streams is
 * listed once, under the smallest of the names those streams gave (the same rule across
 * instances, so every instance lists a person alike).
 *
 * @example
 * ```ts
 * import { Roster } from "./_roster.ts";
 * const roster = new Roster();
 * roster.add({ userId: "u2", user: "bo" });
 * roster.add({ userId: "u1", user: "ann" });
 * roster.add({ userId: "u1", user: "ann" }); // a second tab: still one person
 * console.log(roster.list()); // [{ userId: "u1", user: "ann" }, { userId: "u2", user: "bo" }]
 * roster.remove({ userId: "u2", user: "bo" });
 * console.log(roster.size); // 1
 * ```
 */
export class Roster {
  /** Per user id, each name its streams gave and how many streams gave it. */
  readonly #people = new Map<string, Map<string, number>>();
  /** The list as last built; `undefined` once someone came or went. */
  #list: readonly PresenceUser[] | undefined = NONE;

  /** Distinct people listed (at most {@link MAX_PRESENCE_USERS} of them appear in {@link list}). */
  get size(): number {
    return this.#people.size;
  }

  /** A stream of `who` joined. */
  add(who: Person): void {
    let names = this.#people.get(who.userId);
    if (names === undefined) {
      names = new Map();
      this.#people.set(who.userId, names);
    }
    names.set(who.user, (names.get(who.user) ?? 0) + 1);
    this.#list = undefined;
  }

  /** A stream of `who` left (one added with the same fields). */
  remove(who: Person): void {
    const names = this.#people.get(who.userId);
    const count = names?.get(who.user);
    if (names === undefined || count === undefined) return;
    if (count > 1) names.set(who.user, count - 1);
    else names.delete(who.user);
    if (names.size === 0) this.#people.delete(who.userId);
    this.#list = undefined;
  }

  /** The first {@link MAX_PRESENCE_USERS} people by name (then user id); cached until someone comes or goes. */
  list(): readonly PresenceUser[] {
    if (this.#list !== undefined) return this.#list;
    const top = new TopUsers(MAX_PRESENCE_USERS);
    for (const [userId, names] of this.#people) {
      let user: string | undefined;
      for (const name of names.keys()) if (user === undefined || name < user) user = name;
      if (user !== undefined) top.offer({ userId, user });
    }
    this.#list = Object.freeze(top.users);
    return this.#list;
  }
}

const NONE: readonly PresenceUser[] = Object.freeze([]);

/**
 * The first `max` distinct people of several lists by name (then user id), a person who appears
 * in more than one under the smallest of their names. Each list being its instance's own first
 * `max`, the result is the first `max` of everyone: a person among the first `max` overall has
 * fewer than `max` people ahead of them on their own instance too.
 *
 * @param lists The lists to merge (each one distinct by user id).
 * @param max How many to keep. Default {@link MAX_PRESENCE_USERS}.
 * @returns The merged list, sorted.
 *
 * @example
 * ```ts
 * import { mergeUsers } from "./_roster.ts";
 * mergeUsers([[{ userId: "u1", user: "zed" }], [{ userId: "u1", user: "al" }, { userId: "u2", user: "bo" }]]);
 * // [{ userId: "u1", user: "al" }, { userId: "u2", user: "bo" }]
 * ```
 */
export function mergeUsers(lists: Iterable<readonly PresenceUser[]>, max: number = MAX_PRESENCE_USERS): PresenceUser[] {
  const best = new Map<string, string>();
  for (const list of lists) {
    for (const { userId, user } of list) {
      const known = best.get(userId);
      if (known === undefined || user < known) best.set(userId, user);
    }
  }
  const top = new TopUsers(max);
  for (const [userId, user] of best) top.offer({ userId, user });
  return top.users;
}

/**
 * Orders people by name, then user id, by UTF-16 code units: the same order on every runtime and
 * instance (a locale's collation is not).
 *
 * @example
 * ```ts
 * import { byName } from "./_roster.ts";
 * [{ userId: "b", user: "ann" }, { userId: "a", user: "ann" }].sort(byName); // a first
 * ```
 */
export function byName(a: PresenceUser, b: PresenceUser): number {
  if (a.user !== b.user) return a.user < b.user ? -1 : 1;
  return a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0;
}

/** The first `max` people offered, sorted: an insertion into a short sorted array per candidate that makes it. */
class TopUsers {
  readonly users: PresenceUser[] = [];
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  offer(person: PresenceUser): void {
    const { users } = this;
    if (this.#max <= 0) return;
    if (users.length === this.#max && byName(person, users[users.length - 1]!) >= 0) return;
    let low = 0;
    let high = users.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (byName(users[middle]!, person) < 0) low = middle + 1;
      else high = middle;
    }
    users.splice(low, 0, person);
    if (users.length > this.#max) users.pop();
  }
}
