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
--         {TOKEN_REUSED}                        an already rotated token: the caller ends
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
local t = redis.call('HMGET', key, 'rt', 'rt_prev', 'rt_prev_until', 'rt_prev_sealed', 'rt_old')
local remembered = t[5] or ''
local short = string.sub(presented, 1, width)

-- Only a rotation or a grace duplicate costs a token: reuse detection (below) must never
-- wait behind a rate limit.
if presented == t[1] or (presented == t[2] and now < tonumber(t[3])) then
  local wait = take_token(KEYS[3], now, tonumber(ARGV[9]), tonumber(ARGV[10]))
  if wait > 0 then
    return {RATE_LIMITED, wait}
  end
end

if presented == t[1] then
  remembered = string.sub(short .. remembered, 1, tonumber(ARGV[7]) * width)
  redis.call('HSET', key, 'rt', ARGV[4], 'rt_prev', presented,
    'rt_prev_until', now + tonumber(ARGV[6]), 'rt_prev_sealed', ARGV[5], 'rt_old', remembered)
  touch(key, idx, member, now, abs_exp, idle_ms)
  return {OK, redis.call('HGETALL', key)}
end

if presented == t[2] and now < tonumber(t[3]) then
  touch(key, idx, member, now, abs_exp, idle_ms)
  return {GRACE, redis.call('HGETALL', key), t[4]}
end

for i = 1, #remembered, width do
  if string.sub(remembered, i, i + width - 1) == short then
    -- A rotated token came back: one of its holders is a thief. The caller ends the
    -- session through the revoke script, whose event is noted before it runs.
    return {TOKEN_REUSED}
  end
end
return {TOKEN_INVALID}
