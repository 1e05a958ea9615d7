// The Lua scripts: each runs atomically on the Redis (or Cluster shard) that
// holds the room, so an id, its history entry and its fan-out are one step,
// and presence changes are decided and announced once. Every key of a room
// shares its hash tag `{room}` (one Cluster slot), and so does its channel,
// which sharded pub/sub (SPUBLISH, Redis 7) routes by slot like a key.
//
// Time is the server's (TIME), never a node's: nodes' clocks may disagree,
// the shard holding a room is one clock. Since Redis 7 scripts replicate
// their effects, so TIME before writes is allowed.
import { createHash } from 'node:crypto';

/** A script and its SHA1, for EVALSHA with a fallback to EVAL on NOSCRIPT. */
export interface Script {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/** Server time in ms; shared prologue. */
const NOW = `local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

/**
 * The room's epoch, drawn (ARGV[1], a fresh candidate from the caller) when its counter is
 * missing: a new run of ids, whose history starts empty. Also drawn when the room's state was
 * last written under another replication id (`w`): Redis gives a server a new one when it
 * becomes a master (a replica promoted by Sentinel or a Cluster failover) and when it starts.
 * Replication is asynchronous, so such a server may lack the last messages the previous master
 * acknowledged, and would give their ids again: the ids go on from its head, in a new epoch
 * that remembers the old one (`pe`) and where they parted (`pf`), so that a position at or
 * before `pf` in the old epoch still continues, and one after it (maybe a lost message) resets.
 */
const epochOf = (keys: string): string => `local state, log = ${keys}
local fields = redis.call('HMGET', state, 'epoch', 'head', 'ms', 'w', 'pe', 'pf')
local epoch, head, last = fields[1], tonumber(fields[2] or '0'), tonumber(fields[3] or '0')
local previous, parted = fields[5], tonumber(fields[6] or '0')
local writer = string.match(redis.call('INFO', 'replication'), 'master_replid:(%x+)')
if not epoch then
  epoch = ARGV[1]
  head = 0
  last = 0
  redis.call('DEL', log)
  redis.call('HSET', state, 'epoch', epoch, 'head', 0, 'w', writer)
elseif fields[4] ~= writer then
  previous, parted = epoch, head
  epoch = ARGV[1]
  redis.call('HSET', state, 'epoch', epoch, 'w', writer, 'pe', previous, 'pf', parted)
end
`;
const EPOCH = epochOf('KEYS[1], KEYS[2]');

/**
 * Publish one message. KEYS: state (hash: epoch, head, ms), log (stream), channel.
 * ARGV: epoch candidate, maxMessages, maxAge ms, state ttl ms, header, data.
 * Stream ids are `<ms>-<mid>` (ms never decreasing), so MINID trims by age and
 * the entries after id `since` are the last `head - since` ones.
 * Returns { mid, epoch }.
 */
export const PUBLISH = script(`${EPOCH}${NOW}
if now < last then now = last end
local mid = redis.call('HINCRBY', state, 'head', 1)
redis.call('HSET', state, 'ms', now)
redis.call('PEXPIRE', state, ARGV[4])
local maxMessages = tonumber(ARGV[2])
if maxMessages > 0 then
  redis.call('XADD', log, 'MAXLEN', maxMessages, now .. '-' .. mid, 'h', ARGV[5], 'd', ARGV[6])
  redis.call('XTRIM', log, 'MINID', (now - tonumber(ARGV[3])) .. '-0')
  redis.call('PEXPIRE', log, ARGV[3])
end
redis.call('SPUBLISH', KEYS[3], mid .. ' ' .. epoch .. ' ' .. now .. ' ' .. ARGV[5] .. '\\n' .. ARGV[6])
return { mid, epoch }
`);

/**
 * History after `since`, with the head and epoch read in the same step, and the reset decided
 * there. KEYS: state, log. ARGV: epoch candidate, since ('' for none), the client's epoch
 * ('' for none), maxAge ms, state ttl ms.
 * Returns { epoch, head, reset (0/1), entries } (entries newest first unless reset).
 */
export const HISTORY = script(`${EPOCH}
if fields[1] == false then redis.call('PEXPIRE', state, ARGV[5]) end
if ARGV[2] == '' then return { epoch, head, 0, {} } end
local since = tonumber(ARGV[2])
local reset = 0
local continues = ARGV[3] == '' or ARGV[3] == epoch or (ARGV[3] == previous and since <= parted)
if not continues or since > head then reset = 1 end
${NOW}
redis.call('XTRIM', log, 'MINID', (now - tonumber(ARGV[4])) .. '-0')
local entries = {}
if reset == 1 then
  entries = redis.call('XRANGE', log, '-', '+')
elseif head > since then
  entries = redis.call('XREVRANGE', log, '+', '-', 'COUNT', head - since)
end
return { epoch, head, reset, entries }
`);

/**
 * Removes one member and announces it, once. The sweep removes, once, every member of the
 * processes whose deadline passed (or that have none: a half-failed leave), reading the member
 * hash only when some deadline passed. An expired name that is a member id is one of a previous
 * version's per-member deadlines. A node name never starts with `{`, a member's JSON always does.
 */
const REMOVE = `local function announceLeave(value)
  redis.call('SPUBLISH', KEYS[3], 'l ' .. (string.match(value, '^%d+ [^{%s]%S* (.*)$') or string.match(value, '^%d+ (.*)$')))
end
local function remove(id)
  local value = redis.call('HGET', KEYS[1], id)
  if not value then return 0 end
  redis.call('HDEL', KEYS[1], id)
  announceLeave(value)
  return 1
end
local function sweep()
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
  if #expired == 0 then return 0 end
  local swept = 0
  local alive = {}
  for _, name in ipairs(expired) do
    redis.call('ZREM', KEYS[2], name)
    alive[name] = false
    swept = swept + remove(name)
  end
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local node = string.match(all[i + 1], '^%d+ ([^{%s]%S*) ')
    if node then
      if alive[node] == nil then alive[node] = redis.call('ZSCORE', KEYS[2], node) ~= false end
      if not alive[node] then
        redis.call('HDEL', KEYS[1], all[i])
        announceLeave(all[i + 1])
        swept = swept + 1
      end
    end
  end
  return swept
end
`;

/** A member leaves. KEYS: presence, deadlines, channel. ARGV: id. Returns 1 when it was there. */
export const LEAVE = script(`${NOW}${REMOVE}
return remove(ARGV[1])
`);

/**
 * The heartbeat of one room, constant in the number of members: sweeps the members of processes
 * that stopped refreshing (announcing each leave once: whichever process's script removes it
 * first), pushes this process's deadline, and reads the room's head and epoch for the
 * continuity check. KEYS: presence, deadlines, channel, state. ARGV: ttl ms, node. Returns
 * { swept, 1 when this node had no deadline (swept while it was cut off: it joins its members
 * again), head, epoch or false }.
 */
export const REFRESH = script(`${NOW}${REMOVE}
local swept = sweep()
local ttl = tonumber(ARGV[1])
local missing = 0
if redis.call('ZADD', KEYS[2], 'XX', 'CH', now + ttl, ARGV[2]) == 0 and not redis.call('ZSCORE', KEYS[2], ARGV[2]) then missing = 1 end
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
redis.call('PEXPIRE', KEYS[2], 2 * ttl)
local state = redis.call('HMGET', KEYS[4], 'head', 'epoch')
return { swept, missing, tonumber(state[1] or '0'), state[2] }
`);

/** The members, after sweeping the expired ones. KEYS: presence, deadlines, channel. Returns the hash's values. */
export const MEMBERS = script(`${NOW}${REMOVE}
sweep()
return redis.call('HVALS', KEYS[1])
`);

/**
 * A batch of presence changes of one room from one process, in order, and what its joins answer:
 * one script whatever their number (at most RedisAdapterOptions.presenceBatch), so that many
 * members joining a room at once cost a few calls in all. KEYS: presence (hash id -> "<joined
 * ms> <node> <member JSON>"), deadlines (zset node -> expiry ms: one per process, whatever its
 * number of members), channel, state, log. ARGV: epoch candidate, ttl ms, node, maxAge ms, state
 * ttl ms, '1' to read the member list, then five per change: 'j' (join) or 'l' (leave), id,
 * member JSON, since ('' for none), the client's epoch ('' for none) (a leave's last three are
 * ''). Each join and each leave (of a member that was there) is announced on the channel, one
 * message each, as before batching. With no join, returns { 0 }. Otherwise { 1 when the node had
 * no deadline (its first members here, or its members were swept while it was cut off: it joins
 * them again), epoch, head, 1 when `entries` are every held one oldest first (some join's
 * position is not in this sequence: a reset) else 0 (the newest, after the smallest `since`,
 * newest first), entries, per change 1 for a reset else 0, the member hash's values or false }.
 * The history part is HISTORY's, once for all the joins; the member list is MEMBERS'.
 */
export const PRESENCE = script(`${NOW}${REMOVE}
local ttl = tonumber(ARGV[2])
local node = ARGV[3]
local count = (#ARGV - 6) / 5
local ids = {}
for i = 0, count - 1 do ids[i + 1] = ARGV[8 + i * 5] end
local values = redis.call('HMGET', KEYS[1], unpack(ids))
local current, existed, order = {}, {}, {}
for i, id in ipairs(ids) do
  if existed[id] == nil then
    existed[id] = values[i] ~= false
    current[id] = values[i]
    order[#order + 1] = id
  end
end
local joins = 0
for i = 0, count - 1 do
  local base = 7 + i * 5
  local id = ARGV[base + 1]
  if ARGV[base] == 'j' then
    local joined = now
    if current[id] then joined = tonumber(string.match(current[id], '^(%d+)')) end
    current[id] = joined .. ' ' .. node .. ' ' .. ARGV[base + 2]
    redis.call('SPUBLISH', KEYS[3], 'j ' .. ARGV[base + 2])
    joins = joins + 1
  elseif current[id] then
    announceLeave(current[id])
    current[id] = false
  end
end
local set, gone = {}, {}
for _, id in ipairs(order) do
  if current[id] then
    set[#set + 1] = id
    set[#set + 1] = current[id]
  elseif existed[id] then
    gone[#gone + 1] = id
  end
end
if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end
if #gone > 0 then redis.call('HDEL', KEYS[1], unpack(gone)) end
if joins == 0 then return { 0 } end
local added = redis.call('ZADD', KEYS[2], now + ttl, node)
redis.call('PEXPIRE', KEYS[1], 2 * ttl)
redis.call('PEXPIRE', KEYS[2], 2 * ttl)
${epochOf('KEYS[4], KEYS[5]')}
if fields[1] == false then redis.call('PEXPIRE', state, ARGV[5]) end
local resets = {}
local all, least = false, false
for i = 0, count - 1 do
  local base = 7 + i * 5
  local reset = 0
  if ARGV[base] == 'j' and ARGV[base + 3] ~= '' then
    local since = tonumber(ARGV[base + 3])
    local theirs = ARGV[base + 4]
    local continues = theirs == '' or theirs == epoch or (theirs == previous and since <= parted)
    if not continues or since > head then
      reset = 1
      all = true
    elseif not least or since < least then
      least = since
    end
  end
  resets[i + 1] = reset
end
local entries = {}
if all or least then
  redis.call('XTRIM', log, 'MINID', (now - tonumber(ARGV[4])) .. '-0')
  if all then
    entries = redis.call('XRANGE', log, '-', '+')
  elseif head > least then
    entries = redis.call('XREVRANGE', log, '+', '-', 'COUNT', head - least)
  end
end
local list = false
if ARGV[6] == '1' then
  sweep()
  list = redis.call('HVALS', KEYS[1])
end
return { added, epoch, head, all and 1 or 0, entries, resets, list }
`);
