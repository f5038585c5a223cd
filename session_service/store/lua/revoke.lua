#!lua flags=allow-oom
-- revoke: ends one session, optionally only if a refresh token was ever issued for it
-- (current or rotated, see refresh_token_standing) or only if it is a user's.
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
-- ARGV[11] the refresh token's generation (its MAC checked; 0 for the generation-less
--         format)   ARGV[12] characters of a hash kept per remembered token
-- ARGV[13..] the identities whose sessions the calling service may act on: their count
--         ('' for any), then each (caller_may_act)
-- Returns {OK, outbox, user id, impersonator ('' for the user's own session)} when a live
-- session was ended (its event, naming the session's user, is in the outbox), or
-- {NOT_FOUND, outbox} when no live session matched: none (already ended, or never
-- existed), or one of another refresh token or user (it goes on); or {CLIENT_MISMATCH,
-- outbox} when the session belongs to another calling service (it goes on). Only OK records an
-- event: an unknown or already ended session id never reaches the revocation stream.
-- outbox: the user's outbox afterwards (HGETALL), which the caller relays without
-- reading it again.
local key, idx, member, outbox = KEYS[1], KEYS[2], ARGV[2], KEYS[3]
local now = tonumber(ARGV[1])
if not live(key, idx, member, now) then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
if not caller_may_act(key, 13) then
  return {CLIENT_MISMATCH, redis.call('HGETALL', outbox)}
end
local user = redis.call('HGET', key, 'user')
local other_user = ARGV[4] ~= '' and ARGV[4] ~= user
if other_user or (ARGV[3] ~= ''
    and not refresh_token_standing(key, ARGV[3], tonumber(ARGV[11]), now, tonumber(ARGV[12]))) then
  return {NOT_FOUND, redis.call('HGETALL', outbox)}
end
local impersonator = end_session(key, idx, member)
record_ended(outbox, {member}, ARGV[5], user, now, 6)
return {OK, redis.call('HGETALL', outbox), user or '', impersonator}
