#!lua flags=no-writes
-- peek: reads a live session without touching it (Introspect); read-only, so it may run
-- on a replica.
-- KEYS[1] session hash
-- ARGV[1] now (ms)   ARGV[2] required refresh token hash, hex ('' = any)
-- Returns {OK, {session hash}} or {NOT_FOUND}
local key, now = KEYS[1], tonumber(ARGV[1])
local t = redis.call('HMGET', key, 'idle_exp', 'abs_exp', 'idle_ms', 'active', 'created', 'rt')
if not t[2] or now >= idle_expiry(t) or now >= tonumber(t[2]) then
  return {NOT_FOUND}
end
if ARGV[2] ~= '' and ARGV[2] ~= stored_hash_hex(t[6]) then
  return {NOT_FOUND}
end
return {OK, redis.call('HGETALL', key)}
