-- list: a user's live sessions, pruning index entries of sessions that have ended.
-- KEYS[1] user index
-- ARGV[1] now (ms)   ARGV[2] session key prefix   ARGV[3] user id
-- Returns {member, {session hash}, member, {session hash}, ...}
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
local out = {}
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local key = prefix .. m
  if live(key, idx, m, now) and redis.call('HGET', key, 'user') == user then
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return out
