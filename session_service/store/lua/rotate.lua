#!lua
-- rotate: exchanges the presented refresh token for its successor of the next generation,
-- with reuse detection (see refresh_token_standing).
-- KEYS[1] session hash
-- KEYS[2] user index
-- KEYS[3] the user's Refresh rate-limit bucket (see take_token)
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] hash of the presented token, hex   ARGV[4] hash of the successor, raw (see
-- stored_hash_hex)
-- ARGV[5] the successor sealed with a key only the presented token yields
-- ARGV[6] grace window (ms)
-- ARGV[7] the presented token's generation (its MAC checked; 0 for the generation-less
--         format); the successor's is the next one
-- ARGV[8] characters of a hash kept per remembered token (refresh_token_standing)
-- ARGV[9] Refreshes per second per user (0 = no limit)   ARGV[10] burst
-- ARGV[11] thumbprint of the key of the request's DPoP proof ('' without a proof)
-- ARGV[12..] the identities whose sessions the calling service may act on: their count
--         ('' for any), then each (caller_may_act)
-- Returns {OK, {session hash}}                  the successor was installed
--         {GRACE, {session hash}, sealed}       a duplicate within the grace window: the
--                                               successor an earlier call installed
--         {TOKEN_REUSED, user id}               an already rotated token: the caller ends
--                                               the session (revoke.lua, after noting its
--                                               outbox), so a crash in between loses no
--                                               event: the session and the evidence stay,
--                                               and the next presentation detects it again
--         {TOKEN_INVALID}                       unknown token, the session has ended, or it
--                                               is an impersonation session (never refreshed)
--         {RATE_LIMITED, ms}                    the user refreshes too often; retry then
--         {DPOP_KEY_MISMATCH}                   the session is bound to a DPoP key and the
--                                               request has no proof by it; nothing changed
--         {CLIENT_MISMATCH}                     the session belongs to another calling
--                                               service; nothing changed
--         {REAUTHENTICATION_REQUIRED}           a risk signal stepped the session up: it
--                                               refreshes again after Reauthenticate;
--                                               nothing changed
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local now, presented, width = tonumber(ARGV[1]), ARGV[3], tonumber(ARGV[8])
local _, abs_exp, idle_ms, full = live(key, idx, member, now)
if not abs_exp then
  return {TOKEN_INVALID}
end
if not caller_may_act(key, 12) then
  return {CLIENT_MISMATCH}
end
if redis.call('HEXISTS', key, 'imp') == 1 then
  return {TOKEN_INVALID}
end
-- A bound session moves only with a proof by its key, checked before anything changes:
-- without the key a token, even a rotated one, can neither refresh nor end the session.
local jkt = redis.call('HGET', key, 'jkt')
if jkt and jkt ~= ARGV[11] then
  return {DPOP_KEY_MISMATCH}
end
local generation = tonumber(ARGV[7])
local standing = refresh_token_standing(key, presented, generation, now, width)

-- A risk signal's step_up action stopped the session's refreshes until Reauthenticate;
-- reuse detection (below) still ends it.
if (standing == 'current' or standing == 'grace') and redis.call('HEXISTS', key, 'stepup') == 1 then
  return {REAUTHENTICATION_REQUIRED}
end

-- Only a rotation or a grace duplicate costs a token: reuse detection (below) must never
-- wait behind a rate limit.
if standing == 'current' or standing == 'grace' then
  local wait = take_token(KEYS[3], now, tonumber(ARGV[9]), tonumber(ARGV[10]))
  if wait > 0 then
    return {RATE_LIMITED, wait}
  end
end

if standing == 'current' then
  -- The previous token's hash is kept by its first 128 bits: enough to recognise a
  -- duplicate, whose successor only the real token can open anyway (rt_prev_sealed).
  local fields = {'rt', ARGV[4], 'rg', generation + 1, 'rt_prev', string.sub(presented, 1, 32),
    'rt_prev_until', now + tonumber(ARGV[6]), 'rt_prev_sealed', ARGV[5]}
  if generation == 0 then
    -- The last generation-less token: remembered so that its reuse is recognised after
    -- any number of rotations too.
    fields[#fields + 1] = 'rt_legacy'
    fields[#fields + 1] = remembered_hash(presented, width)
  end
  redis.call('HSET', key, unpack(fields))
  touch(key, idx, member, now, abs_exp, idle_ms, full)
  return {OK, redis.call('HGETALL', key)}
end

if standing == 'grace' then
  touch(key, idx, member, now, abs_exp, idle_ms, full)
  return {GRACE, redis.call('HGETALL', key), redis.call('HGET', key, 'rt_prev_sealed')}
end

-- A rotated token that comes back means one of its holders is a thief. The caller ends
-- the session through the revoke script, whose event is noted before it runs.
if standing == 'retired' then
  return {TOKEN_REUSED, redis.call('HGET', key, 'user')}
end
return {TOKEN_INVALID}
