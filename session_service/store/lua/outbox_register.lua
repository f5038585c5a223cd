#!lua flags=allow-oom
-- outbox_register: notes, before a script that may end sessions runs, that the user's
-- outbox may soon hold an event, so that the relay of any replica finds it even if this
-- replica dies before relaying it. The outbox is in the user's slot and this index in
-- another, so the note is written first: one that leads nowhere (the script ended
-- nothing, or never ran) costs a look and is dropped.
-- allow-oom: it adds one small note that outbox_settle removes; Revoke depends on it, and
-- logout must work at maxmemory.
-- KEYS[1] one of the pending-outbox indexes (a sorted set; several, in different slots,
--         so that one unreachable shard does not stop revocations)
-- ARGV[1] member: '<user tag> <event id>'   ARGV[2] when (ms)   ARGV[3] index TTL (ms)
-- Returns {OK}.
note_pending(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return {OK}
