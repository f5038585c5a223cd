#!lua
-- idp_index: adds a session to the index of an identity provider's session (issuer, sid) or
-- subject (issuer, sub), and removes members that were ended through it. The index lives in
-- its own slot (keys.py): it is written before create stores the session, so a crash in
-- between leaves a member whose session never existed, which readers skip and prune.
-- KEYS[1] the index: a sorted set; member = our session id, score = its absolute expiry (ms)
-- ARGV[1] now (ms)   ARGV[2] session id to add ('' = none)   ARGV[3] its absolute expiry (ms)
-- ARGV[4..] session ids to remove
-- Returns {OK}
local idx, now = KEYS[1], tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', idx, '-inf', now)
for i = 4, #ARGV do
  redis.call('ZREM', idx, ARGV[i])
end
if ARGV[2] ~= '' then
  local expires = tonumber(ARGV[3])
  redis.call('ZADD', idx, expires, ARGV[2])
  -- The index lives as long as its longest-lived session can; no sweeper is needed.
  if redis.call('PTTL', idx) < expires - now then
    redis.call('PEXPIRE', idx, expires - now)
  end
end
return {OK}
