#!lua flags=allow-oom
-- outbox_ack: deletes outbox entries the relay has appended to the revocation stream.
-- allow-oom: it only deletes; Revoke depends on it, and logout must work at maxmemory.
-- KEYS[1] a user's revocation outbox (see record_ended in _lib.lua)
-- ARGV[1..] event ids
-- Returns {OK, how many entries were deleted}.
return {OK, redis.call('HDEL', KEYS[1], unpack(ARGV))}
