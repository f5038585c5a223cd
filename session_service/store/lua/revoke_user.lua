#!lua flags=allow-oom
-- revoke_user: ends all of a user's sessions, optionally keeping one ("other devices").
-- allow-oom: it only deletes, so it runs even when Redis is at maxmemory (logout must work).
-- KEYS[1]  user index
-- KEYS[2..] the session key of every member of the index (see declared_members)
-- ARGV[1] now (ms)   ARGV[2] session key prefix (a member appended gives its key)
-- ARGV[3] user id    ARGV[4] member to keep ('' = none)
-- Returns {OK, {members (session nonces) of the live sessions it ended}}, so that the
-- caller can publish their revocation, or {INDEX_CHANGED}.
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local members = declared_members(idx, prefix, 2)
if not members then
  return {INDEX_CHANGED}
end
local ended = {}
for _, m in ipairs(members) do
  if m ~= ARGV[4] then
    local key = prefix .. m
    -- The slot tag is a hash of the user id; the owner check keeps a collision harmless.
    local owner = redis.call('HGET', key, 'user')
    if not owner then
      redis.call('ZREM', idx, m)
    elseif owner == user and live(key, idx, m, now) then
      end_session(key, idx, m)
      ended[#ended + 1] = m
    end
  end
end
return {OK, ended}
