#!lua
-- reauthenticate: records a new authentication of a session's user and moves the session
-- to a new id with a new refresh token (no fixation): the old id ends, with a revocation
-- event for its access tokens; data, device, limits, expiries, DPoP and caller binding
-- carry over. The new id has the old one's tag, so both keys are in one slot.
-- KEYS[1] the session hash   KEYS[2] the user index   KEYS[3] the session hash under its
--         new id   KEYS[4] the user's revocation outbox (see record_ended)
-- KEYS[5] when ARGV[15] is not '': a pending-outbox index (record_ended)
-- ARGV[1] now (ms)   ARGV[2] index member (old nonce)   ARGV[3] new index member (new nonce)
-- ARGV[4] hash of the new refresh token, raw (stored_hash_hex)   ARGV[5] its generation
-- ARGV[6] acr   ARGV[7] amr, space-separated   ARGV[8] auth_time (ms): the new
--         authentication (acr and amr '' when not said: then the old ones are dropped)
-- ARGV[9] thumbprint of the key of the request's DPoP proof ('' without a proof)
-- ARGV[10] user tag   ARGV[11..15] outbox event id, expires at, reason, TTL, note time
--         (record_ended)
-- ARGV[16..] the identities whose sessions the calling service may act on: their count
--         ('' for any), then each (caller_may_act)
-- Returns {OK, {session hash under the new id}, outbox}   moved; the old id's event,
--                                                          naming the session's user, is in
--                                                          the outbox (HGETALL, relayed by
--                                                          the caller)
--         {NOT_FOUND, outbox}          no live session of that id (nothing changed)
--         {CLIENT_MISMATCH, outbox}    the session belongs to another calling service
--         {DPOP_KEY_MISMATCH, outbox}  the session is bound to a DPoP key and the request
--                                      has no proof by it
local key, idx, new_key, outbox = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, member, new_member = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local _, abs_exp, idle_ms, full = live(key, idx, member, now)
if not abs_exp then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
if not caller_may_act(key, 16) then
  return {CLIENT_MISMATCH, redis.call('HGETALL', outbox)}
end
local jkt = redis.call('HGET', key, 'jkt')
if jkt and jkt ~= ARGV[9] then
  return {DPOP_KEY_MISMATCH, redis.call('HGETALL', outbox)}
end

-- RENAME keeps every field and the expiry; the refresh-token history belongs to the old
-- id (its tokens name it), so the new id starts a history of its own.
redis.call('RENAME', key, new_key)
local forget = {'rt_prev', 'rt_prev_until', 'rt_prev_sealed', 'rt_legacy', 'rt_old', 'on', 'stepup'}
for _, name in ipairs(redis.call('HKEYS', new_key)) do
  if string.match(name, '^o%d+$') then
    forget[#forget + 1] = name
  end
end
redis.call('HDEL', new_key, unpack(forget))
redis.call('HSET', new_key, 'rt', ARGV[4], 'rg', ARGV[5], 'at', ARGV[8])
for i, field in ipairs({'acr', 'amr'}) do
  if ARGV[5 + i] ~= '' then
    redis.call('HSET', new_key, field, ARGV[5 + i])
  else
    redis.call('HDEL', new_key, field)
  end
end
redis.call('ZREM', idx, member)
redis.call('ZADD', idx, now, new_member)
touch(new_key, idx, new_member, now, abs_exp, idle_ms, full)
record_ended(outbox, {member}, ARGV[10], redis.call('HGET', new_key, 'user'), now, 11)
return {OK, redis.call('HGETALL', new_key), redis.call('HGETALL', outbox)}
