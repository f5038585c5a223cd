#!lua flags=allow-oom
-- touch: reads a live session and slides its idle expiry (Get).
-- allow-oom: it only rewrites fields in place and moves an expiry (a compact session's
-- first touch adds its active field, once), so Get keeps working when Redis is at maxmemory.
-- KEYS[1] session hash
-- KEYS[2] user index
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- Returns {OK, {session hash as field, value...}} or {NOT_FOUND}
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local now = tonumber(ARGV[1])
local idle_exp, abs_exp, idle_ms, full = live(key, idx, member, now)
if not idle_exp then
  return {NOT_FOUND}
end
-- A slide of less than a second (or of 1 % of a shorter idle timeout) is not written:
-- the idle expiry ends up at most that much early, and a session read many times a
-- second costs one write a second instead of one per read.
if math.min(now + idle_ms, abs_exp) - idle_exp >= math.min(1000, math.floor(idle_ms / 100)) then
  touch(key, idx, member, now, abs_exp, idle_ms, full)
end
return {OK, redis.call('HGETALL', key)}
