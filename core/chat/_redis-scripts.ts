/**
 * Private to the Redis hub: its Lua scripts, each one atomic step on one room's keys.
 *
 * Every script but the typing one gets the room's five keys, which share one hash tag (`{room}`)
 * and so one Cluster slot (a room name holds no brace, so the tag is the whole name):
 *
 * - `KEYS[1]` the stream: one entry per stored message, fields `d` (the message's JSON without
 *   its id), `p` (the previous entry's id: a cursor just below the oldest retained entry is
 *   still gap-free) and `n` (its notification number);
 * - `KEYS[2]` the meta hash: `epoch` (names this life of the stream), `n` (the last notification
 *   number: messages *and* reply events, so an instance sees any gap in what it heard), `count`
 *   (messages ever stored), `last` (the newest entry's id);
 * - `KEYS[3]` running replies: `<replyId>` the reply-start JSON, `<replyId>:t` the text so far,
 *   `<replyId>:l` the lease (Redis time, ms) after which another instance ends the reply;
 * - `KEYS[4]` presence: one field per instance, `<count>:<expires ms>`;
 * - `KEYS[5]` who is here: one field per instance, the JSON `[[userId, user], ...]` of its first 50
 *   named people by name, kept only while that instance's presence field lives (a separate key:
 *   an older instance's tick, which drops any presence value it cannot read, never sees it).
 *
 * The meta hash may also hold `lost` (`1`: an instance saw this room's stream lost, a Redis restart
 * without its data or a lost tail, so its history is not complete whatever it holds now).
 *
 * Each change publishes one notification on the room's channel, in the script, so the order
 * instances hear is the order Redis applied: `m <n> <epoch> <entry id> <d>` for a message,
 * `e <n> <epoch> <event JSON>` for a reply event. Two kinds carry no number and are outside that
 * order, so they never open or close a gap: `t <event JSON>` (someone is typing: delivered as it
 * comes, never read back) and `p <instance id>` (that instance's presence entry changed: read the
 * presence again now rather than at the next tick).
 *
 * @module
 */

/** Shared helpers, prepended to every script. */
const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function touch(ttl)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end
end
local function field(entry, name)
  local f = entry[2]
  for i = 1, #f, 2 do if f[i] == name then return f[i + 1] end end
  return nil
end
-- Stores a message and notifies the room: the one way anything enters the stream.
local function append(epoch_candidate, d, maxlen, channel, reply_id)
  local epoch = redis.call('HGET', KEYS[2], 'epoch')
  if not epoch then
    epoch = epoch_candidate
    redis.call('HSET', KEYS[2], 'epoch', epoch)
  end
  local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
  redis.call('HINCRBY', KEYS[2], 'count', 1)
  local prev = redis.call('HGET', KEYS[2], 'last') or ''
  local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'd', d, 'p', prev, 'n', n)
  redis.call('HSET', KEYS[2], 'last', id)
  if reply_id ~= '' then redis.call('HDEL', KEYS[3], reply_id, reply_id .. ':t', reply_id .. ':l') end
  redis.call('PUBLISH', channel, 'm ' .. n .. ' ' .. epoch .. ' ' .. id .. ' ' .. d)
  return {epoch, id, n}
end
`;

/**
 * Stores one message. ARGV: epoch candidate (used if the room has none), message JSON without
 * id, MAXLEN, channel, replyId or '', key TTL ms. Returns `{epoch, entry id, n}`.
 */
export const PUBLISH_SCRIPT = `${PRELUDE}
local result = append(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
touch(tonumber(ARGV[6]))
return result`;

/**
 * Stores one message unless its key was used: `PUBLISH_SCRIPT` plus KEYS[6], the key
 * (`<prefix>:{room}:k:<key>`, holding `<epoch> <entry id> <time> <fingerprint>` for ARGV[8] ms).
 * ARGV: those of `PUBLISH_SCRIPT`, then the message's time, the key's TTL ms, its fingerprint.
 * Returns `{epoch, entry id, n, 0}` when stored; `{epoch, entry id, time, fingerprint, 1}` (what
 * the key holds) when it was used, and then stores and sends nothing.
 */
export const PUBLISH_ONCE_SCRIPT = `${PRELUDE}
local seen = redis.call('GET', KEYS[6])
if seen then
  local epoch, entry, time, fingerprint = string.match(seen, '^(%S+) (%S+) (%S+) (%S+)$')
  return {epoch, entry, time, fingerprint, 1}
end
local result = append(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5])
touch(tonumber(ARGV[6]))
redis.call('SET', KEYS[6], result[1] .. ' ' .. result[2] .. ' ' .. ARGV[7] .. ' ' .. ARGV[9], 'PX', ARGV[8])
result[4] = 0
return result`;

/**
 * A reply event. ARGV: 'start' or 'delta', replyId, event JSON, lease ms, key TTL ms, channel,
 * text (the start's text, or the delta). Returns n, or 0 when dropped (no such room, or a delta
 * for a reply that is not running).
 */
export const EMIT_SCRIPT = `${PRELUDE}
local epoch = redis.call('HGET', KEYS[2], 'epoch')
if not epoch then return 0 end
local rid = ARGV[2]
local lease = now_ms() + tonumber(ARGV[4])
if ARGV[1] == 'start' then
  redis.call('HSET', KEYS[3], rid, ARGV[3], rid .. ':t', ARGV[7], rid .. ':l', lease)
else
  if redis.call('HEXISTS', KEYS[3], rid) == 0 then return 0 end
  local text = redis.call('HGET', KEYS[3], rid .. ':t') or ''
  redis.call('HSET', KEYS[3], rid .. ':t', text .. ARGV[7], rid .. ':l', lease)
end
local n = redis.call('HINCRBY', KEYS[2], 'n', 1)
redis.call('PUBLISH', ARGV[6], 'e ' .. n .. ' ' .. epoch .. ' ' .. ARGV[3])
touch(tonumber(ARGV[5]))
return n`;

/**
 * A consistent view of the room at one point of its notification order. ARGV: mode ('after' or
 * 'latest'), the cursor's epoch ('' accepts any), the cursor's entry id, how many latest entries.
 *
 * In 'after' mode the status says whether the entries after the cursor can be given exactly:
 * 'ok' (the cursor's entry exists, or is the `p` of the oldest retained one), 'truncated' (the
 * cursor is older than what is retained), 'unknown' (another epoch, or an id this stream never
 * held: a lost tail). Otherwise the latest entries come back. Returns
 * `{epoch|false, n, status, first id|false, last id|false, entries, replies}`, replies being
 * `{start JSON, text so far}` for each running reply whose lease has not run out.
 */
export const SNAPSHOT_SCRIPT = `${PRELUDE}
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'n', 'last')
local epoch, n, last = meta[1], tonumber(meta[2] or '0'), meta[3]
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local first = head and head[1] or false
local function latest(count)
  if count <= 0 then return {} end
  local rev = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', count)
  local out = {}
  for i = #rev, 1, -1 do out[#out + 1] = rev[i] end
  return out
end
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am < bm or (am == bm and as < bs)
end
local status, entries = 'latest', nil
if ARGV[1] == 'after' then
  local cursor = ARGV[3]
  if not epoch or (ARGV[2] ~= '' and epoch ~= ARGV[2]) then
    status = 'unknown'
  elseif cursor == '0-0' or #redis.call('XRANGE', KEYS[1], cursor, cursor) == 1
      or (head and field(head, 'p') == cursor) then
    status = 'ok'
    entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+')
  elseif not first or older(cursor, first) then
    status = 'truncated'
  else
    status = 'unknown'
  end
end
if entries == nil then entries = latest(tonumber(ARGV[4])) end
local now = now_ms()
local replies = {}
local r = redis.call('HGETALL', KEYS[3])
local map = {}
for i = 1, #r, 2 do map[r[i]] = r[i + 1] end
for k, v in pairs(map) do
  if not string.find(k, ':', 1, true) and tonumber(map[k .. ':l'] or '0') >= now then
    replies[#replies + 1] = {v, map[k .. ':t'] or ''}
  end
end
return {epoch or false, n, status, first, last or false, entries, replies}`;

/**
 * The periodic step of one instance for one room it serves: writes its head count (0 removes
 * it), drops other instances' counts that expired, renews the leases of the replies it runs, and
 * ends replies whose lease ran out (their instance died) with a stored error message, exactly
 * once whichever instances race for it. ARGV: instance id, count, count TTL ms, key TTL ms,
 * own reply ids (comma-separated), lease ms, note appended to a reaped reply, ISO time, MAXLEN,
 * channel, epoch candidate, room name, this instance's people (their JSON; `=`: unchanged since
 * the last tick; `''`: none), `1` to tell the other instances that its entry changed (`p`), the
 * note in Korean (for a reply whose text so far holds Hangul: a lead byte EA-ED then two
 * continuation bytes, U+A000-U+DFFF, where the Hangul syllables are; ARGV[7] otherwise).
 * Returns `{others' total, replies ended, the other live instances' people JSONs, 1 if this
 * instance's people should be written but are missing (Redis lost them)}`.
 */
export const TICK_SCRIPT = `${PRELUDE}
local now = now_ms()
local me, count = ARGV[1], tonumber(ARGV[2])
if count > 0 then
  redis.call('HSET', KEYS[4], me, count .. ':' .. (now + tonumber(ARGV[3])))
else
  redis.call('HDEL', KEYS[4], me)
end
local others = 0
local p = redis.call('HGETALL', KEYS[4])
local live = {}
for i = 1, #p, 2 do
  local c, expires = string.match(p[i + 1], '^(%d+):(%d+)$')
  if c == nil or tonumber(expires) < now then
    redis.call('HDEL', KEYS[4], p[i])
  elseif p[i] ~= me then
    others = others + tonumber(c)
    live[p[i]] = true
  end
end
local missing = 0
if count > 0 and ARGV[13] ~= '' then
  if ARGV[13] ~= '=' then
    redis.call('HSET', KEYS[5], me, ARGV[13])
  elseif redis.call('HEXISTS', KEYS[5], me) == 0 then
    missing = 1
  end
else
  redis.call('HDEL', KEYS[5], me)
end
local people = {}
local u = redis.call('HGETALL', KEYS[5])
for i = 1, #u, 2 do
  if u[i] ~= me then
    if live[u[i]] then people[#people + 1] = u[i + 1] else redis.call('HDEL', KEYS[5], u[i]) end
  end
end
if ARGV[14] == '1' then redis.call('PUBLISH', ARGV[10], 'p ' .. me) end
for rid in string.gmatch(ARGV[5], '[^,]+') do
  if redis.call('HEXISTS', KEYS[3], rid) == 1 then
    redis.call('HSET', KEYS[3], rid .. ':l', now + tonumber(ARGV[6]))
  end
end
local ended = 0
local r = redis.call('HGETALL', KEYS[3])
local map = {}
for i = 1, #r, 2 do map[r[i]] = r[i + 1] end
for k, _ in pairs(map) do
  if not string.find(k, ':', 1, true) and tonumber(map[k .. ':l'] or '0') < now then
    local text = map[k .. ':t'] or ''
    local note = ARGV[7]
    if ARGV[15] and string.find(text, '[\\234-\\237][\\128-\\191][\\128-\\191]') then note = ARGV[15] end
    local d = cjson.encode({room = ARGV[12], user = 'bot', text = text .. note,
      time = ARGV[8], replyId = k, error = true})
    append(ARGV[11], d, ARGV[9], ARGV[10], k)
    ended = ended + 1
  end
end
if count > 0 or others > 0 then touch(tonumber(ARGV[4])) end
return {others, ended, people, missing}`;

/**
 * A page of the retained history, read at one point. ARGV: the `before` cursor's epoch ('' for
 * none), its entry id ('' for none), how many at most. Returns `{epoch|false, complete (1|0),
 * oldest entry id|false, entries (oldest first), 1 if older entries exist before them}`. The
 * history is complete when nothing was ever lost: no `lost` mark, and either no message ever
 * stored or the oldest entry retained is the room's first (it has no predecessor).
 */
export const PAGE_SCRIPT = `${PRELUDE}
local meta = redis.call('HMGET', KEYS[2], 'epoch', 'count', 'lost')
local epoch, count, lost = meta[1], tonumber(meta[2] or '0'), meta[3]
local head = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
local first = head and head[1] or false
local complete = 0
if not lost and ((not head and count == 0) or (head and field(head, 'p') == '')) then complete = 1 end
if not epoch or (ARGV[1] ~= '' and ARGV[1] ~= epoch) or ARGV[2] == '0-0' then
  return {epoch or false, complete, epoch and first or false, {}, 0}
end
local limit = tonumber(ARGV[3])
local top = '+'
if ARGV[2] ~= '' then top = '(' .. ARGV[2] end
local rev = redis.call('XREVRANGE', KEYS[1], top, '-', 'COUNT', limit + 1)
local more = 0
if #rev > limit then
  more = 1
  rev[#rev] = nil
end
local out = {}
for i = #rev, 1, -1 do out[#out + 1] = rev[i] end
return {epoch, complete, first, out, more}`;

/**
 * Marks the room's history as not complete: an instance saw its stream lost (another epoch, a
 * lost tail). ARGV: key TTL ms. Creates the meta hash if Redis lost it; its epoch comes with the
 * next message.
 */
export const MARK_LOST_SCRIPT = `${PRELUDE}
redis.call('HSET', KEYS[2], 'lost', '1')
touch(tonumber(ARGV[1]))
return 1`;

/**
 * Someone is typing: sent at most once per interval per room and user id, whichever instance
 * is asked, by a key that expires with the interval. KEYS[1]: that key
 * (`<prefix>:{room}:y:<userId>`). ARGV: interval ms, channel, event JSON. Returns 1 if sent,
 * 0 if absorbed. Nothing is stored but the key, and nothing numbered is published.
 */
export const TYPING_SCRIPT = `
if redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX') then
  redis.call('PUBLISH', ARGV[2], 't ' .. ARGV[3])
  return 1
end
return 0`;

/**
 * A client's token bucket, shared by every instance: `burst` tokens at most, refilled at
 * `per_ms` a millisecond of Redis time (so the instances' clocks never matter), the arithmetic
 * of the app's own `RateLimiter`. KEYS[1]: the bucket (`<prefix>:limit:<bucket>:{<client>}`, a
 * hash of `t` tokens and `a` when they were counted). ARGV: burst, per_ms. Returns 0 when a token
 * was taken, else the whole seconds until one is back. The key expires once the bucket would be
 * full again (a missing bucket is a full one), so Redis holds only clients seen lately.
 */
export const RATE_SCRIPT = `${PRELUDE}
local burst = tonumber(ARGV[1])
local per_ms = tonumber(ARGV[2])
local now = now_ms()
local state = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = burst
if state[1] and state[2] then
  tokens = math.min(burst, tonumber(state[1]) + math.max(0, now - tonumber(state[2])) * per_ms)
end
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / per_ms / 1000))
end
redis.call('HSET', KEYS[1], 't', string.format('%.17g', tokens), 'a', now)
redis.call('PEXPIRE', KEYS[1], math.min(604800000, math.ceil((burst - tokens) / per_ms) + 1000))
return wait`;
