#!lua
-- update: patches a session's data atomically, as compare-and-set when a version is named.
-- KEYS[1] session hash
-- KEYS[2] user index
-- ARGV[1] now (ms)   ARGV[2] index member (session nonce)
-- ARGV[3] expected version (0 = any)   ARGV[4] max data entries   ARGV[5] max data bytes
-- ARGV[6] n, the number of entries to set; ARGV[7 .. 6+2n] key, value pairs to set;
-- ARGV[7+2n ..] keys to remove
-- Returns {OK, {session hash}}, {NOT_FOUND}, {VERSION_MISMATCH, current version}
--         or {DATA_TOO_LARGE}; nothing is written unless OK.
local key, idx, member = KEYS[1], KEYS[2], ARGV[2]
local now = tonumber(ARGV[1])
local _, abs_exp, idle_ms, full = live(key, idx, member, now)
if not abs_exp then
  return {NOT_FOUND}
end
-- One read of the hash gives the version and the data's sizes as they are.
local sizes = {}
local version = 1  -- the compact layout stores no ver until the first update
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local field = flat[i]
  if string.sub(field, 1, 2) == 'd:' then
    sizes[string.sub(field, 3)] = #field - 2 + #flat[i + 1]
  elseif field == 'ver' then
    version = tonumber(flat[i + 1])
  end
end
local expected = tonumber(ARGV[3])
if expected > 0 and expected ~= version then
  return {VERSION_MISMATCH, version}
end

-- Size the data as it would be after the patch before writing anything.
local last_set = 6 + 2 * tonumber(ARGV[6])
for i = 7, last_set, 2 do
  sizes[ARGV[i]] = #ARGV[i] + #ARGV[i + 1]
end
for i = last_set + 1, #ARGV do
  sizes[ARGV[i]] = nil
end
local count, total = 0, 0
for _, size in pairs(sizes) do
  count = count + 1
  total = total + size
end
if count > tonumber(ARGV[4]) or total > tonumber(ARGV[5]) then
  return {DATA_TOO_LARGE}
end

for i = 7, last_set, 2 do
  redis.call('HSET', key, 'd:' .. ARGV[i], ARGV[i + 1])
end
for i = last_set + 1, #ARGV do
  redis.call('HDEL', key, 'd:' .. ARGV[i])
end
redis.call('HSET', key, 'ver', version + 1)
touch(key, idx, member, now, abs_exp, idle_ms, full)
return {OK, redis.call('HGETALL', key)}
