#!lua
-- create: stores a new session and indexes it under its user, enforcing the per-user limit.
-- KEYS[1]  session hash
-- KEYS[2]  user index
-- KEYS[3]  the user's Create rate-limit bucket (see take_token)
-- KEYS[4]  the user's revocation outbox (see record_ended)
-- KEYS[5..] when the user is at the limit (ARGV[6] > 0): the session key of every member
--           of the index (see declared_members); none needed below the limit; then, when
--           ARGV[21] is not '', a pending-outbox index (record_ended)
-- ARGV[1]  now (ms)               ARGV[2]  index member (session nonce)   ARGV[3] user id
-- ARGV[4]  idle timeout (ms)      ARGV[5]  absolute lifetime (ms)
-- ARGV[6]  max sessions per user (0 = unlimited)
-- ARGV[7]  '1' refuses a session over the limit, '0' ends the least recently active ones
-- ARGV[8]  session key prefix (a member appended gives its key, in KEYS[2]'s slot)
-- ARGV[9]  SHA-256 of the refresh token's secret, 32 raw bytes (see stored_hash_hex)
-- ARGV[10] claims JSON   ARGV[11] scopes JSON   ARGV[12] client JSON   ARGV[13] client id
--          (each '' when empty: then not stored; the client JSON is stored as ip, ua, dev)
-- ARGV[14] Creates per second per user (0 = no limit)   ARGV[15] burst
-- ARGV[16] user tag   ARGV[17..21] outbox event id, expires at, reason, TTL, note time
--          (record_ended)
-- ARGV[22] thumbprint of the DPoP key the session is bound to ('' for a bearer session)
-- ARGV[23] the refresh token's generation   ARGV[24] the identity of the calling service
--          that creates the session ('' when none; see caller_may_act)
-- ARGV[25] the identity provider's issuer   ARGV[26] its subject   ARGV[27] its session id
--          (each '' when not given: then not stored; the caller indexes them, see idp_index)
-- ARGV[28] acr   ARGV[29] amr, space-separated   ARGV[30] auth_time (ms): how and when the
--          user authenticated (each '' when not said: then not stored)
-- ARGV[31] the impersonator: the operator acting as the user ('' for a session of the user
--          itself: then not stored; rotate.lua never refreshes a session that has one)
-- ARGV[32] '1': the compact layout (no active until the first touch, no idle_exp, no ver:
--          see idle_expiry), '0': the full
--          one, which replicas of earlier releases read (SESSION_REDIS_COMPACT_SESSIONS)
-- ARGV[33..] data, as key, value pairs
-- Returns {OK, {evicted member...}, idle expiry, absolute expiry, {member, impersonator...}
-- of the evicted impersonation sessions} (the caller knows the rest
-- of the session it stored: it sent it), {LIMIT_REACHED},
-- {RATE_LIMITED, ms until a retry can succeed} or {INDEX_CHANGED}; the evicted sessions'
-- event is in the outbox, naming ARGV[3] as their user only when each of them was ARGV[3]'s
-- (two user ids may share a tag, and with it the index).
local key, idx = KEYS[1], KEYS[2]
local now, member = tonumber(ARGV[1]), ARGV[2]
local idle_ms, abs_ms, max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local prefix = ARGV[8]

-- Under the limit nothing but the index is read: the caller may send no member keys, and
-- only a user at the limit costs a second round trip (INDEX_CHANGED, then all declared).
local evicting = false
if max > 0 then
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
  if redis.call('ZCARD', idx) >= max then
    if not declared_members(idx, prefix, 5) then
      return {INDEX_CHANGED}
    end
    evicting = true
  end
end
local wait = take_token(KEYS[3], now, tonumber(ARGV[14]), tonumber(ARGV[15]))
if wait > 0 then
  return {RATE_LIMITED, wait}
end
local evicted = {}
local impersonated = {}
local evicted_user = ARGV[3]
if evicting then
  -- Entries whose hash vanished without a script (maxmemory eviction) must not count.
  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
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
      if redis.call('HGET', prefix .. m, 'user') ~= ARGV[3] then
        evicted_user = false
      end
      note_impersonation(impersonated, m, end_session(prefix .. m, idx, m))
      evicted[#evicted + 1] = m
    end
  end
end

local idle_exp = now + math.min(idle_ms, abs_ms)
redis.call('HSET', key, 'user', ARGV[3], 'created', now, 'abs_exp', now + abs_ms,
  'idle_ms', idle_ms, 'rt', ARGV[9], 'rg', ARGV[23])
if ARGV[32] ~= '1' then
  redis.call('HSET', key, 'active', now, 'idle_exp', idle_exp, 'ver', 1)
end
-- Optional fields are stored only when set: an empty one would cost its name and value in
-- every session (the reader treats a missing field as empty). The client info is stored as
-- short fields, not its JSON: small values keep the hash in Redis's compact encoding.
for i, field in ipairs({'claims', 'scopes', 'client_id', 'jkt', 'caller'}) do
  local value = ARGV[({10, 11, 13, 22, 24})[i]]
  if value ~= '' then
    redis.call('HSET', key, field, value)
  end
end
if ARGV[12] ~= '' then
  local client = cjson.decode(ARGV[12])
  for name, field in pairs({ip = 'ip', user_agent = 'ua', device = 'dev'}) do
    if type(client[name]) == 'string' and client[name] ~= '' then
      redis.call('HSET', key, field, client[name])
    end
  end
end
record_ended(KEYS[4], evicted, ARGV[16], evicted_user, now, 17)
for i, field in ipairs({'idp_iss', 'idp_sub', 'idp_sid'}) do
  if ARGV[24 + i] ~= '' then
    redis.call('HSET', key, field, ARGV[24 + i])
  end
end
for i, field in ipairs({'acr', 'amr', 'at'}) do
  if ARGV[27 + i] ~= '' then
    redis.call('HSET', key, field, ARGV[27 + i])
  end
end
if ARGV[31] ~= '' then
  redis.call('HSET', key, 'imp', ARGV[31])
end
for i = 33, #ARGV, 2 do
  redis.call('HSET', key, 'd:' .. ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', key, idle_exp - now)
redis.call('ZADD', idx, idle_exp, member)
-- The index lives as long as its longest-lived session can; no sweeper is needed.
if redis.call('PTTL', idx) < abs_ms then
  redis.call('PEXPIRE', idx, abs_ms)
end
return {OK, evicted, idle_exp, now + abs_ms, impersonated}
