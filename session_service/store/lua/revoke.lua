#!lua flags=allow-oom
-- revoke: ends one session, optionally only if it matches a refresh token or a user.
-- allow-oom: it only deletes (and records the event in the outbox), so it runs even when
-- Redis is at maxmemory (logout must work).
-- KEYS[1] session hash
-- KEYS[2] user index
-- KEYS[3] the user's revocation outbox (see record_ended)
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] required refresh token hash ('' = any)   ARGV[4] required user id ('' = any)
-- ARGV[5] user tag   ARGV[6..9] outbox event id, expires at, reason, TTL (record_ended)
-- KEYS[4], ARGV[10], ARGV[11] (only on a single Redis, where every key is on one server):
-- a pending-outbox index, when (ms) and its TTL; an event recorded is also noted there
-- ('<tag> <event id>', as outbox_register.lua does), in the same atomic step, so the
-- caller needs no round trip to note it first. In a cluster the index is in another slot
-- and the caller notes the event before the script instead.
-- Returns {code, outbox}: code 1 when a live session was ended (and its event is in the
-- outbox), 0 when there was no live session (already ended, or never existed), -1 when
-- the live session did not match (it goes on). Only 1 records an event: an unknown or
-- already ended session id never reaches the revocation stream. outbox: the user's
-- outbox afterwards (HGETALL), which the caller relays without reading it again.
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local code = 1
if not live(key, idx, member, tonumber(ARGV[1])) then
  code = 0
else
  local t = redis.call('HMGET', key, 'rt', 'user')
  if (ARGV[3] ~= '' and ARGV[3] ~= t[1]) or (ARGV[4] ~= '' and ARGV[4] ~= t[2]) then
    code = -1
  else
    end_session(key, idx, member)
    record_ended(KEYS[3], {member}, ARGV[5], tonumber(ARGV[1]), ARGV[6], ARGV[7], ARGV[8], ARGV[9])
    if KEYS[4] then
      note_pending(KEYS[4], ARGV[5] .. ' ' .. ARGV[6], ARGV[10], ARGV[11])
    end
  end
end
return {code, redis.call('HGETALL', KEYS[3])}
