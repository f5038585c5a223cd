#!lua flags=allow-oom
-- ssf_lease_release: gives up the delivery lease of one SSF receiver, only for its holder
-- (compare and delete), so that another replica takes over at once on a clean stop.
-- allow-oom: it only deletes.
-- KEYS[1] the receiver's lease
-- ARGV[1] the holder's token
-- Returns {OK} when released, {NOT_FOUND} when the token did not hold it.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return {OK}
end
return {NOT_FOUND}
