#!lua
-- rotate: exchanges the presented refresh token for its successor, with reuse detection.
-- KEYS[1] session hash
-- KEYS[2] user index
-- KEYS[3] the user's Refresh rate-limit bucket (see take_token)
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] hash of the presented token   ARGV[4] hash of the successor
-- ARGV[5] the successor sealed with a key only the presented token yields
-- ARGV[6] grace window (ms)   ARGV[7] how many rotated tokens to remember
-- ARGV[8] characters of a hash kept per remembered token
-- ARGV[9] Refreshes per second per user (0 = no limit)   ARGV[10] burst
-- Returns {OK, {session hash}}                  the successor was installed
--         {GRACE, {session hash}, sealed}       a duplicate within the grace window: the
--                                               successor an earlier call installed
--         {TOKEN_REUSED, user id}               an already rotated token: the caller ends
--                                               the session (revoke.lua, after noting its
--                                               outbox), so a crash in between loses no
--                                               event: the session and the evidence stay,
--                                               and the next presentation detects it again
--         {TOKEN_INVALID}                       unknown token, or the session has ended
--         {RATE_LIMITED, ms}                    the user refreshes too often; retry then
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local now, presented, width = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[8])
local _, abs_exp, idle_ms = live(key, idx, member, now)
if not abs_exp then
  return {TOKEN_INVALID}
end
local t = redis.call('HMGET', key, 'rt', 'rt_prev', 'rt_prev_until', 'rt_prev_sealed', 'on', 'rt_old')
local retired, mem = tonumber(t[5]) or 0, tonumber(ARGV[7])
local short = string.sub(presented, 1, width)
-- Remembered hashes are stored as raw bytes (half the size of their hex), and the previous
-- token's hash by its first 128 bits: enough to recognise a duplicate, whose successor
-- only the real token can open anyway (rt_prev_sealed).
local short_raw = short:gsub('..', function(pair) return string.char(tonumber(pair, 16)) end)
local prev = string.sub(presented, 1, 32)

-- Only a rotation or a grace duplicate costs a token: reuse detection (below) must never
-- wait behind a rate limit.
local duplicate = t[2] ~= false and (t[2] == prev or t[2] == presented) and now < tonumber(t[3])
if presented == t[1] or duplicate then
  local wait = take_token(KEYS[3], now, tonumber(ARGV[9]), tonumber(ARGV[10]))
  if wait > 0 then
    return {RATE_LIMITED, wait}
  end
end

if presented == t[1] then
  local fields = {'rt', ARGV[4], 'rt_prev', prev, 'rt_prev_until', now + tonumber(ARGV[6]),
    'rt_prev_sealed', ARGV[5]}
  if mem > 0 then
    -- Each retired hash has a field of its own in a ring of mem slots (o0, o1, ...; 'on'
    -- counts the rotations), so no value outgrows Redis's compact listpack encoding.
    for _, v in ipairs({'o' .. (retired % mem), short_raw, 'on', retired + 1}) do
      fields[#fields + 1] = v
    end
  end
  redis.call('HSET', key, unpack(fields))
  touch(key, idx, member, now, abs_exp, idle_ms)
  return {OK, redis.call('HGETALL', key)}
end

if duplicate then
  touch(key, idx, member, now, abs_exp, idle_ms)
  return {GRACE, redis.call('HGETALL', key), t[4]}
end

-- A rotated token that comes back means one of its holders is a thief. The caller ends
-- the session through the revoke script, whose event is noted before it runs.
local slots = math.min(retired, mem)
if slots > 0 then
  local names = {}
  for i = 0, slots - 1 do
    names[i + 1] = 'o' .. i
  end
  for _, old in ipairs(redis.call('HMGET', key, unpack(names))) do
    if old == short_raw then
      return {TOKEN_REUSED, redis.call('HGET', key, 'user')}
    end
  end
end
-- A stored session may hold its retired hashes in one string instead (rt_old, see _lib.lua).
local retired_string = t[6] or ''
for i = 1, #retired_string, width do
  if string.sub(retired_string, i, i + width - 1) == short then
    return {TOKEN_REUSED, redis.call('HGET', key, 'user')}
  end
end
return {TOKEN_INVALID}
