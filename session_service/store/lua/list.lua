#!lua flags=allow-oom
-- list: one page of a user's live sessions, pruning index entries of sessions that have ended.
-- allow-oom: it only prunes ended sessions, so it runs even when Redis is at maxmemory.
-- KEYS[1]  user index
-- KEYS[2..] the session keys of the page's members, in ARGV[4..]'s order (the caller chose
--           the page from the index; only these keys are read, so the work is bounded by
--           the page size, and Redis Cluster can redirect every one of them)
-- ARGV[1] now (ms)   ARGV[2] session key prefix   ARGV[3] user id   ARGV[4..] the members
-- Returns {OK, {member, {session hash}, member, {session hash}, ...}}
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local out = {}
for i = 4, #ARGV do
  local m = ARGV[i]
  local key = KEYS[i - 2]
  if key == prefix .. m and live(key, idx, m, now) and redis.call('HGET', key, 'user') == user then
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return {OK, out}
