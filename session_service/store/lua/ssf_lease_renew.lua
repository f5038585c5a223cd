#!lua flags=allow-oom
-- ssf_lease_renew: extends the delivery lease of one SSF receiver, only for its holder
-- (compare and extend). A repeat after a lost reply extends it again, harmlessly.
-- allow-oom: it only changes an expiry.
-- KEYS[1] the receiver's lease
-- ARGV[1] the holder's token   ARGV[2] how long the lease lasts from now (ms)
-- Returns {OK} when extended, {NOT_FOUND} when the token no longer holds it (expired,
-- taken by another replica): the holder stops delivering.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {OK}
end
return {NOT_FOUND}
