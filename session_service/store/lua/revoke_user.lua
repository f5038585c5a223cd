-- revoke_user: ends all of a user's sessions, optionally keeping one ("other devices").
-- KEYS[1] user index
-- ARGV[1] now (ms)   ARGV[2] session key prefix (a member appended gives its key)
-- ARGV[3] user id    ARGV[4] member to keep ('' = none)
-- Returns the number of live sessions ended.
local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local ended = 0
for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  if m ~= ARGV[4] then
    local key = prefix .. m
    -- The slot tag is a hash of the user id; the owner check keeps a collision harmless.
    local owner = redis.call('HGET', key, 'user')
    if not owner then
      redis.call('ZREM', idx, m)
    elseif owner == user and live(key, idx, m, now) then
      end_session(key, idx, m)
      ended = ended + 1
    end
  end
end
return ended
