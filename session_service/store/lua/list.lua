#!lua flags=allow-oom
-- list: one page of a user's live sessions in session-id order, pruning index entries of
-- sessions that have ended.
-- allow-oom: it only prunes ended sessions, so it runs even when Redis is at maxmemory.
-- KEYS[1]  user index
-- ARGV[1] now (ms)   ARGV[2] session key prefix   ARGV[3] user id
-- ARGV[4] page size   ARGV[5] member to continue after ('' = from the start)
-- Two ways to name the page:
-- - page size 0 (Redis Cluster): the caller read the index and chose the page; its
--   members are ARGV[6..] and their session keys KEYS[2..], in the same order. Only these
--   keys are read, and the cluster can redirect every one of them.
-- - page size > 0 (a single Redis, where keys need not be declared): the script reads the
--   index and chooses the page itself, in one round trip. An index of more than
--   SORT_LIMIT members is not sorted here (that would hold Redis up): the script answers
--   {INDEX_CHANGED} and the caller reads the index and names the page, as in a cluster.
-- Either way the sessions read are bounded by the page size.
-- Returns {OK, {member, {session hash}, member, {session hash}, ...}, next}: next is the
-- page's last member when the index has more after it ('' otherwise, and always '' when
-- the caller chose the page).
local SORT_LIMIT = 200  -- about 0.15 ms of sorting; the default per-user limit is 100

-- Byte order, as the caller sorts ids: Lua's < on strings follows the server's locale.
local function before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end

local idx, now, prefix, user = KEYS[1], tonumber(ARGV[1]), ARGV[2], ARGV[3]
local size, after = tonumber(ARGV[4]), ARGV[5]
local page, keys, next_after = {}, {}, ''
if size == 0 then
  for i = 6, #ARGV do
    page[#page + 1] = ARGV[i]
    keys[#keys + 1] = KEYS[i - 4]
  end
else
  if redis.call('ZCARD', idx) > SORT_LIMIT then
    return {INDEX_CHANGED}
  end
  local members = redis.call('ZRANGE', idx, 0, -1)
  table.sort(members, before)
  local first = 1
  if after ~= '' then
    while first <= #members and not before(after, members[first]) do
      first = first + 1
    end
  end
  local last = math.min(first + size - 1, #members)
  for i = first, last do
    page[#page + 1] = members[i]
    keys[#keys + 1] = prefix .. members[i]
  end
  if last < #members then
    next_after = members[last]
  end
end
local out = {}
for i, m in ipairs(page) do
  local key = keys[i]
  if key == prefix .. m and live(key, idx, m, now) and redis.call('HGET', key, 'user') == user then
    out[#out + 1] = m
    out[#out + 1] = redis.call('HGETALL', key)
  end
end
return {OK, out, next_after}
