#!lua flags=allow-oom
-- list: a user's live sessions, pruning index entries of sessions that have ended.
-- allow-oom: it only prunes ended sessions, so it runs even when Redis is at maxmemory (logout must work).
-- KEYS[1]  user index
-- KEYS[2..] the session key of every member of the index (see declared_members)
-- ARGV[1] now (ms)   ARGV[2] session key prefix   ARGV[3] user id
-- Returns {OK, {member, {session hash}, member, {session hash}, ...}} or {INDEX_CHANGED}
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local members = declared_members(idx, prefix, 2)
if not members then
  return {INDEX_CHANGED}
end
local out = {}
for _, m in ipairs(members) do
  local key = prefix .. m
  if live(key, idx, m, now) and redis.call('HGET', key, 'user') == user then
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return {OK, out}
