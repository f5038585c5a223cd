#!lua flags=allow-oom
-- outbox_settle: drops notes of outbox_register once their event is in the stream, or
-- once it is certain there never will be one.
-- allow-oom: it only deletes; Revoke depends on it, and logout must work at maxmemory.
-- KEYS[1] a pending-outbox index
-- ARGV[1..] members to drop
-- Returns {OK, how many were dropped}.
return {OK, redis.call('ZREM', KEYS[1], unpack(ARGV))}
