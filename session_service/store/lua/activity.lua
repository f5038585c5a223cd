#!lua
-- activity: records the client a live session was just used from (its last client) and,
-- for a Refresh, starts a new window of the refresh count when the last one is over. The
-- caller runs it only when something is to be written (domain/risk.py: a changed client,
-- a minute since the last write, a window to start), so a busy session costs at most one
-- write a minute.
-- KEYS[1] session hash
-- KEYS[2] user index
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] client ip   ARGV[4] user agent   ARGV[5] device (each '' when not said: then the
--         stored one stays)
-- ARGV[6] '1' for a Refresh (which has rotated the refresh token already), else '0'
-- ARGV[7] length of a refresh-count window (ms)
-- Session hash fields written: lip, lua, ldv (the last client), lseen (when written),
-- rw_at, rw_g (when the refresh-count window started, and the refresh token's generation
-- then: the refreshes in the window are the generations since)
-- Returns {OK, ip, user agent, device, written at}: the last client before this call
-- (false where none), or {NOT_FOUND} when the session is not live (nothing written).
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local now = tonumber(ARGV[1])
if not live(key, idx, member, now) then
  return {NOT_FOUND}
end
local before = redis.call('HMGET', key, 'lip', 'lua', 'ldv', 'lseen')
local fields = {}
for i, field in ipairs({'lip', 'lua', 'ldv'}) do
  if ARGV[2 + i] ~= '' then
    fields[#fields + 1] = field
    fields[#fields + 1] = ARGV[2 + i]
  end
end
if #fields > 0 then
  fields[#fields + 1] = 'lseen'
  fields[#fields + 1] = now
  redis.call('HSET', key, unpack(fields))
end
if ARGV[6] == '1' then
  local t = redis.call('HMGET', key, 'rw_at', 'rg')
  if not t[1] or now - tonumber(t[1]) >= tonumber(ARGV[7]) then
    -- This refresh is the window's first: the generation before it starts the count.
    redis.call('HSET', key, 'rw_at', now, 'rw_g', (tonumber(t[2]) or 1) - 1)
  end
end
return {OK, before[1], before[2], before[3], before[4]}
