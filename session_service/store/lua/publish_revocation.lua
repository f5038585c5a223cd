#!lua flags=allow-oom
-- publish_revocation: appends one revocation event to the revocation stream and drops the
-- allow-oom: it appends one small, trimmed stream entry, so it runs even when Redis is at maxmemory (logout must work).
-- events that no longer matter. The stream is the one key outside the users' slots (hash
-- tag {revocations}), so this runs as its own call right after the script that ended the
-- sessions: a script may only touch keys of one slot.
-- KEYS[1] the revocation stream
-- ARGV[1] retention (ms): how long after its entry an event can still matter
-- ARGV[2] revoked at (ms)   ARGV[3] expires at (ms): no access token of the sessions is valid after it
-- ARGV[4] the ended session ids, space-separated
-- Returns the id of the new entry (the cursor of the event).
-- Entry ids come from the Redis clock (XADD *), so the trimming bound is taken from the same
-- clock (TIME) rather than from the service's, which may be skewed or, in tests, fake.
-- Exact (not ~) trimming, so an event goes as soon as it stops mattering; each call removes
-- only what aged out since the previous one.
local now = redis.call('TIME')
local horizon = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) - tonumber(ARGV[1])
return redis.call('XADD', KEYS[1], 'MINID', math.max(horizon, 0), '*',
  'at', ARGV[2], 'exp', ARGV[3], 'sids', ARGV[4])
