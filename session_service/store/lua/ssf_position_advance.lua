#!lua flags=allow-oom
-- ssf_position_advance: records how far one SSF receiver has got (the stream cursor of the
-- last event it accepted), only for the holder of its delivery lease: a replica that lost
-- the lease can no longer move the position of the one that took it over. A repeat after
-- a lost reply writes the same cursor again.
-- allow-oom: one small value, overwritten in place; delivery must go on at maxmemory.
-- KEYS[1] the receiver's lease   KEYS[2] the receiver's position (same slot)
-- ARGV[1] the holder's token     ARGV[2] the new position (a revocation stream entry id)
-- Returns {OK} when recorded, {NOT_FOUND} when the token does not hold the lease.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return {OK}
end
return {NOT_FOUND}
