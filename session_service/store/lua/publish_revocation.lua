#!lua flags=allow-oom
-- publish_revocation: appends one revocation event (an outbox entry, or one chunk of a
-- large one) to the revocation stream, once, and drops the events past their retention.
-- The relay (store/outbox.py) calls it for every outbox entry and deletes the entry only
-- afterwards, so it may call it again for the same chunk (a lost reply, two relays, a
-- crash in between): the chunk id makes the repeat a no-op.
-- allow-oom: it appends one small, trimmed stream entry, so it runs even when Redis is at
-- maxmemory (logout must work).
-- KEYS[1] the revocation stream
-- KEYS[2] ids of the chunks already appended (sorted set scored by when, same slot)
-- ARGV[1] retention (ms): how long after its entry an event can still matter
-- ARGV[2] chunk id (the outbox event id and the chunk's number)
-- ARGV[3] revoked at (ms)   ARGV[4] expires at (ms): no access token of the sessions is valid after it
-- ARGV[5] reason            ARGV[6] the ended session ids, space-separated
-- ARGV[7] the user id they belonged to ('' when not known: the entry then has no user field)
-- Entry fields: at, exp, reason, sids (ARGV[3..6]) and user (ARGV[7], only when not '').
-- Returns {OK, id of the new entry (the cursor of the event)}, or {OK, ''} when the chunk
-- had been appended before.
-- Entry ids come from the Redis clock (XADD *), so the trimming bound is taken from the same
-- clock (TIME) rather than from the service's, which may be skewed or, in tests, fake.
-- Exact (not ~) trimming, so an event goes as soon as it stops mattering; each call removes
-- only what aged out since the previous one. A chunk id is forgotten with its event.
local stream, seen = KEYS[1], KEYS[2]
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local retention = tonumber(ARGV[1])
local horizon = math.max(now_ms - retention, 0)
redis.call('ZREMRANGEBYSCORE', seen, '-inf', '(' .. horizon)
if redis.call('ZSCORE', seen, ARGV[2]) then
  return {OK, ''}
end
redis.call('ZADD', seen, now_ms, ARGV[2])
redis.call('PEXPIRE', seen, retention)
local fields = {'at', ARGV[3], 'exp', ARGV[4], 'reason', ARGV[5], 'sids', ARGV[6]}
if ARGV[7] ~= '' then
  fields[#fields + 1], fields[#fields + 2] = 'user', ARGV[7]
end
return {OK, redis.call('XADD', stream, 'MINID', horizon, '*', unpack(fields))}
