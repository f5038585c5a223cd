#!lua flags=allow-oom
-- revoke: ends one session, optionally only if it matches a refresh token or a user.
-- allow-oom: it only deletes (and records the event in the outbox), so it runs even when
-- Redis is at maxmemory (logout must work).
-- KEYS[1] session hash
-- KEYS[2] user index
-- KEYS[3] the user's revocation outbox (see record_ended)
-- KEYS[4] when ARGV[10] is not '': a pending-outbox index (record_ended)
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] required refresh token hash ('' = any)   ARGV[4] required user id ('' = any)
-- ARGV[5] user tag   ARGV[6..10] outbox event id, expires at, reason, TTL, note time
--         (record_ended)
-- Returns {OK, outbox} when a live session was ended (its event is in the outbox), or
-- {NOT_FOUND, outbox} when no live session matched: none (already ended, or never
-- existed), or one of another refresh token or user (it goes on). Only OK records an
-- event: an unknown or already ended session id never reaches the revocation stream.
-- outbox: the user's outbox afterwards (HGETALL), which the caller relays without
-- reading it again.
local key, idx, member, outbox = KEYS[1], KEYS[2], ARGV[2], KEYS[3]
if not live(key, idx, member, tonumber(ARGV[1])) then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
local t = redis.call('HMGET', key, 'rt', 'user')
if (ARGV[3] ~= '' and ARGV[3] ~= t[1]) or (ARGV[4] ~= '' and ARGV[4] ~= t[2]) then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
end_session(key, idx, member)
record_ended(outbox, {member}, ARGV[5], tonumber(ARGV[1]), 6)
return {OK, redis.call('HGETALL', outbox)}
