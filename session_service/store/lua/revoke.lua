#!lua flags=allow-oom
-- revoke: ends one session, optionally only if it matches a refresh token or a user.
-- allow-oom: it only deletes, so it runs even when Redis is at maxmemory (logout must work).
-- KEYS[1] session hash
-- KEYS[2] user index
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] required refresh token hash ('' = any)   ARGV[4] required user id ('' = any)
-- Returns 1 when a live session was ended, 0 when there was no live session (already
-- ended, or never existed), -1 when the live session did not match (it goes on). The
-- caller publishes a revocation for 1 and 0 (a repeat is harmless), never for -1.
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
if not live(key, idx, member, tonumber(ARGV[1])) then
  return 0
end
local t = redis.call('HMGET', key, 'rt', 'user')
if (ARGV[3] ~= '' and ARGV[3] ~= t[1]) or (ARGV[4] ~= '' and ARGV[4] ~= t[2]) then
  return -1
end
end_session(key, idx, member)
return 1
