#!lua
-- create: stores a new session and indexes it under its user, enforcing the per-user limit.
-- KEYS[1]  session hash
-- KEYS[2]  user index
-- KEYS[3]  the user's revocation outbox (see record_ended)
-- KEYS[4..] with a limit (ARGV[6] > 0): the session key of every member of the index
--           (see declared_members)
-- ARGV[1]  now (ms)               ARGV[2]  index member (session nonce)   ARGV[3] user id
-- ARGV[4]  idle timeout (ms)      ARGV[5]  absolute lifetime (ms)
-- ARGV[6]  max sessions per user (0 = unlimited)
-- ARGV[7]  '1' refuses a session over the limit, '0' ends the least recently active ones
-- ARGV[8]  session key prefix (a member appended gives its key, in KEYS[2]'s slot)
-- ARGV[9]  hash of the refresh token
-- ARGV[10] claims JSON   ARGV[11] scopes JSON   ARGV[12] client JSON   ARGV[13] client id
-- ARGV[14] user tag   ARGV[15..18] outbox event id, expires at, reason, TTL (record_ended)
-- ARGV[19..] data, as key, value pairs
-- Returns {OK, {evicted member...}, {session hash as field, value...}}, {LIMIT_REACHED}
-- or {INDEX_CHANGED}; the evicted sessions' event is in the outbox.
local key, idx = KEYS[1], KEYS[2]
local now, member = tonumber(ARGV[1]), ARGV[2]
local idle_ms, abs_ms, max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = ARGV[8]

local members = {}
if max > 0 then
  members = declared_members(idx, prefix, 4)
  if not members then
    return {INDEX_CHANGED}
  end
end
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
local evicted = {}
if max > 0 then
  members = redis.call('ZRANGE', idx, 0, -1)
  if #members >= max then
    -- Entries whose hash vanished without a script (maxmemory eviction) must not count.
    for _, m in ipairs(members) do
      if redis.call('EXISTS', prefix .. m) == 0 then
        redis.call('ZREM', idx, m)
      end
    end
    local n = redis.call('ZCARD', idx)
    if n >= max then
      if ARGV[7] == '1' then
        return {LIMIT_REACHED}
      end
      for _, m in ipairs(redis.call('ZRANGE', idx, 0, n - max)) do
        end_session(prefix .. m, idx, m)
        evicted[#evicted + 1] = m
      end
    end
  end
end

local idle_exp = now + math.min(idle_ms, abs_ms)
redis.call('HSET', key, 'user', ARGV[3], 'created', now, 'active', now, 'idle_exp', idle_exp,
  'abs_exp', now + abs_ms, 'idle_ms', idle_ms, 'ver', 1, 'claims', ARGV[10], 'scopes', ARGV[11],
  'client', ARGV[12], 'client_id', ARGV[13], 'rt', ARGV[9], 'rt_old', '')
record_ended(KEYS[3], evicted, ARGV[14], now, ARGV[15], ARGV[16], ARGV[17], ARGV[18])
for i = 19, #ARGV, 2 do
  redis.call('HSET', key, 'd:' .. ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', key, idle_exp - now)
redis.call('ZADD', idx, idle_exp, member)
-- The index lives as long as its longest-lived session can; no sweeper is needed.
if redis.call('PTTL', idx) < abs_ms then
  redis.call('PEXPIRE', idx, abs_ms)
end
return {OK, evicted, redis.call('HGETALL', key)}
