#!lua flags=allow-oom
-- revoke_user: ends all of a user's sessions, optionally keeping one ("other devices").
-- allow-oom: it only deletes (and records the event in the outbox), so it runs even when
-- Redis is at maxmemory (logout must work).
-- KEYS[1]  user index
-- KEYS[2]  the user's revocation outbox (see record_ended)
-- KEYS[3..] the session keys of this batch's members, in ARGV[11..]'s order: the caller
--           reads the index and ends a large user's sessions a batch at a time, so the
--           work of one call is bounded by the batch size (and Redis Cluster can redirect
--           every key it touches); then, when ARGV[10] is not '', a pending-outbox index
--           (record_ended)
-- ARGV[1] now (ms)   ARGV[2] session key prefix (a member appended gives its key)
-- ARGV[3] user id    ARGV[4] member to keep ('' = none)
-- ARGV[5] user tag   ARGV[6..10] outbox event id, expires at, reason, TTL, note time
--         (record_ended)
-- ARGV[11..] the batch's members (session nonces)
-- Returns {OK, {members (session nonces) of the live sessions it ended}, {member,
-- impersonator...} of those that were impersonation sessions}; their event,
-- naming ARGV[3] as their user (each was checked to be ARGV[3]'s), is in the outbox (none
-- is recorded when nothing ended).
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ended = {}
local impersonated = {}
for i = 11, #ARGV do
  local m, key = ARGV[i], KEYS[i - 8]
  if m ~= ARGV[4] and key == prefix .. m then
    -- The slot tag is a hash of the user id; the owner check keeps a collision harmless.
    local owner = redis.call('HGET', key, 'user')
    if not owner then
      redis.call('ZREM', idx, m)
    elseif owner == user and live(key, idx, m, now) then
      note_impersonation(impersonated, m, end_session(key, idx, m))
      ended[#ended + 1] = m
    end
  end
end
record_ended(KEYS[2], ended, ARGV[5], user, now, 6)
return {OK, ended, impersonated}
