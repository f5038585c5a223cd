#!lua flags=allow-oom
-- ssf_lease_acquire: takes the delivery lease of one SSF receiver when nobody holds it, so
-- that one replica at a time delivers to it (transport/ssf_transmitter.py). A repeat after
-- a lost reply finds the taker's own token and answers OK again.
-- allow-oom: one small key; delivering revocations must go on when Redis is at maxmemory.
-- KEYS[1] the receiver's lease
-- ARGV[1] the taker's token (random per term)   ARGV[2] how long the lease lasts (ms)
-- Returns {OK} when taken (or already held by this token), {NOT_FOUND} when another token
-- holds it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {OK}
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {OK}
end
return {NOT_FOUND}
