#!lua
-- outbox_settle: drops notes of outbox_register once their event is in the stream, or
-- once it is certain there never will be one.
-- KEYS[1] a pending-outbox index
-- ARGV[1..] members to drop
-- Returns how many were dropped.
return redis.call('ZREM', KEYS[1], unpack(ARGV))
