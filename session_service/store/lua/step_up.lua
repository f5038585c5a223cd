#!lua
-- step_up: a risk signal's step_up action. The session stays, but its current access
-- tokens are revoked (a revocation event for its id) and it refreshes no more until
-- Reauthenticate moves it to a new id; gateways and Introspect see its id as ended.
-- KEYS[1] session hash
-- KEYS[2] user index
-- KEYS[3] the user's revocation outbox (see record_ended)
-- KEYS[4] when ARGV[8] is not '': a pending-outbox index (record_ended)
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] user tag   ARGV[4..8] outbox event id, expires at, reason, TTL, note time
--         (record_ended)
-- Session hash field written: stepup (rotate.lua refuses to rotate while it is set;
-- reauthenticate.lua drops it)
-- Returns {OK, outbox} when the session was stepped up (its event, naming the session's
-- user, is in the outbox),
-- {NOT_FOUND, outbox} when it is not live or was stepped up already (no event).
-- outbox: the user's outbox afterwards (HGETALL), which the caller relays.
local key, idx, member, outbox = KEYS[1], KEYS[2], ARGV[2], KEYS[3]
local now = tonumber(ARGV[1])
if not live(key, idx, member, now) or redis.call('HEXISTS', key, 'stepup') == 1 then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
redis.call('HSET', key, 'stepup', now)
record_ended(outbox, {member}, ARGV[3], redis.call('HGET', key, 'user'), now, 4)
return {OK, redis.call('HGETALL', outbox)}
