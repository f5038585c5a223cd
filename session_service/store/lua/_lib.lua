-- _lib: helpers shared by the scripts. The loader inserts this file into every script
-- (after a #! line, if any), because a Redis script cannot include another file.
-- Session hash fields: user, created, active, idle_exp, abs_exp, idle_ms, ver, claims,
-- scopes, ip, ua, dev, client_id, caller, rt, rg, rt_prev, rt_prev_until, rt_prev_sealed,
-- d:<key> (claims, scopes, ip, ua, dev, client_id and caller only when not empty; caller:
-- the identity of the service that created the session; rt: the current refresh token's
-- SHA-256, 32 raw bytes in the compact layout, 64 hex digits in the full one; rg: its
-- generation, see refresh_token_standing; the compact layout stores neither idle_exp,
-- see idle_expiry, nor ver while it is 1, nor active before the first touch). A session may also hold what the
-- generation-less refresh-token format needs to recognise its rotated tokens: on and o<n>
-- (a ring of retired hashes), rt_old (retired hashes as one string) and rt_legacy (the
-- hash of the generation-less token that rotated into generation 1); and client (the
-- client info as one JSON field). idp_iss, idp_sub, idp_sid: the identity provider's
-- session the login came from (each only when not empty; indexed by idp_index). acr, amr
-- (space-separated), at (auth_time, ms): how and when the user last authenticated (each
-- only when not empty). lip, lua, ldv, lseen: the client the session was last used from
-- and when that was written; rw_at, rw_g: the refresh-count window (activity.lua);
-- stepup: set by a risk signal's step_up action until Reauthenticate (step_up.lua). imp: the operator acting as the user in an impersonation session
-- (only then).
-- User index: a sorted set; member = session nonce, score = the session's idle expiry (ms),
-- so ended sessions are pruned by score and the lowest score is the least recently active.
-- Result codes: every script's reply is a table that starts with one of them. ScriptCode in
-- scripts.py declares the same values (tests/unit/test_script_codes.py holds them equal).
local OK, NOT_FOUND, VERSION_MISMATCH, LIMIT_REACHED = 0, 1, 2, 3
local DATA_TOO_LARGE, TOKEN_INVALID, TOKEN_REUSED, GRACE = 4, 5, 6, 7
local INDEX_CHANGED, RATE_LIMITED = 8, 9
local DPOP_KEY_MISMATCH, PROOF_REPLAYED, CLIENT_MISMATCH = 10, 11, 12
local REAUTHENTICATION_REQUIRED = 13

-- Scripts that work on all of a user's sessions get the session key of every index
-- member declared in KEYS[first..]. Redis Cluster redirects (ASK, TRYAGAIN) only for
-- declared keys: while a slot migrates, an undeclared key could be read as missing on
-- one node while it lives on the other, and the script would prune a live session from
-- the index. Returns the members, or nil when the index has a member that was not
-- declared (it changed since the caller read it): the caller reads it again and retries.
local function declared_members(idx, prefix, first)
  local declared = {}
  for i = first, #KEYS do
    declared[KEYS[i]] = true
  end
  local members = redis.call('ZRANGE', idx, 0, -1)
  for _, m in ipairs(members) do
    if not declared[prefix .. m] then
      return nil
    end
  end
  return members
end

-- Deletes a session and its index entry; returns its impersonator (the operator of an
-- impersonation session, '' for a session of the user themself), which the caller's
-- audit trail names.
local function end_session(key, idx, member)
  local impersonator = redis.call('HGET', key, 'imp') or ''
  redis.call('DEL', key)
  redis.call('ZREM', idx, member)
  return impersonator
end

-- Appends member, impersonator to a flat list when the ended session was an
-- impersonation session.
local function note_impersonation(list, member, impersonator)
  if impersonator ~= '' then
    list[#list + 1] = member
    list[#list + 1] = impersonator
  end
end

-- A session's idle expiry from an HMGET of idle_exp, abs_exp, idle_ms, active, created:
-- the compact layout does not store it (it is always min(active + idle_ms, abs_exp), and
-- active is created until the first touch stores it); the full layout, which replicas of
-- earlier releases read, stores both.
local function idle_expiry(t)
  return tonumber(t[1]) or math.min(tonumber(t[4] or t[5]) + tonumber(t[3]), tonumber(t[2]))
end

-- For a live session returns idle_exp, abs_exp, idle_ms and whether idle_exp is stored
-- (the full layout, which touch keeps); otherwise removes what is left of it (an
-- expired hash, a stale index entry) and returns nil.
local function live(key, idx, member, now)
  local t = redis.call('HMGET', key, 'idle_exp', 'abs_exp', 'idle_ms', 'active', 'created')
  if not t[2] then
    redis.call('ZREM', idx, member)
    return nil
  end
  local idle_exp, abs_exp = idle_expiry(t), tonumber(t[2])
  if now >= idle_exp or now >= abs_exp then
    end_session(key, idx, member)
    return nil
  end
  return idle_exp, abs_exp, tonumber(t[3]), t[1] ~= false
end

-- Marks a session active at now and slides its idle expiry, never past abs_exp; full:
-- the session stores its idle expiry (live's fourth value, see idle_expiry).
local function touch(key, idx, member, now, abs_exp, idle_ms, full)
  local idle_exp = math.min(now + idle_ms, abs_exp)
  if full then
    redis.call('HSET', key, 'active', now, 'idle_exp', idle_exp)
  else
    redis.call('HSET', key, 'active', now)
  end
  redis.call('PEXPIRE', key, idle_exp - now)
  redis.call('ZADD', idx, 'XX', idle_exp, member)
end

-- Whether the calling service may act on a session by its refresh token. ARGV[first] is
-- how many identities may ('' for any caller: sessions are not bound), ARGV[first + 1 ..]
-- the identities; a session without a caller field was created by no identity and is not
-- bound.
local function caller_may_act(key, first)
  if ARGV[first] == '' then
    return true
  end
  local owner = redis.call('HGET', key, 'caller')
  if not owner then
    return true
  end
  for i = first + 1, first + tonumber(ARGV[first]) do
    if ARGV[i] == owner then
      return true
    end
  end
  return false
end

-- The hex form of a stored 'rt', the form the callers send a presented token's hash in:
-- the compact layout keeps 32 raw bytes (half its hex), the full one the hex itself.
local function stored_hash_hex(value)
  if value and #value == 32 then
    return string.format(string.rep('%02x', 32), string.byte(value, 1, 32))
  end
  return value
end

-- How a generation-less token's hash is remembered once rotated: its first width hex
-- digits as raw bytes (half the size of their hex).
local function remembered_hash(hash, width)
  return (string.sub(hash, 1, width):gsub('..', function(pair) return string.char(tonumber(pair, 16)) end))
end

-- Where a presented refresh token stands in the history of the (live) session at key:
-- 'current'; 'grace' (the one rotated last, within the grace window); 'retired' (issued
-- for this session and rotated since); or nil (never issued for it). hash: the hex SHA-256
-- of its secret; generation: the one it carries, 0 for the generation-less format. The
-- caller has checked the token's MAC, so a token that carries an earlier generation than
-- the session's was issued for it: that needs no memory of the tokens themselves. A
-- generation-less token is recognised by the hashes the session remembers (see the
-- fields above); width: the hex digits of a remembered hash.
local function refresh_token_standing(key, hash, generation, now, width)
  local t = redis.call('HMGET', key, 'rt', 'rg', 'rt_prev', 'rt_prev_until')
  local current = tonumber(t[2]) or 0
  if hash == stored_hash_hex(t[1]) and generation == current then
    return 'current'
  end
  -- The previous token is kept by the first 128 bits of its hash, or by all of it.
  local prev = t[3] ~= false and (t[3] == string.sub(hash, 1, 32) or t[3] == hash)
  if prev and now < tonumber(t[4]) then
    return 'grace'
  end
  if generation > 0 then
    return (generation < current) and 'retired' or nil
  end
  if prev then
    return 'retired'
  end
  local short = string.sub(hash, 1, width)
  local short_raw = remembered_hash(hash, width)
  local fields = redis.call('HGETALL', key)
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if name == 'rt_legacy' or string.match(name, '^o%d+$') then
      if value == short_raw then
        return 'retired'
      end
    elseif name == 'rt_old' then
      for j = 1, #value, width do
        if string.sub(value, j, j + width - 1) == short then
          return 'retired'
        end
      end
    end
  end
  return nil
end

-- Takes one token from a user's bucket (a hash: t = tokens, ts = last update in ms) that
-- refills at rate tokens per second up to burst. Returns 0 when a token was taken, else
-- the milliseconds until one will be there. rate <= 0 means no limit. The bucket expires
-- once it would be full again, so idle users cost nothing.
local function take_token(bucket, now, rate, burst)
  if rate <= 0 then
    return 0
  end
  local s = redis.call('HMGET', bucket, 't', 'ts')
  local tokens, ts = tonumber(s[1]), tonumber(s[2])
  if not tokens or not ts then
    tokens, ts = burst, now
  end
  tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
  if tokens < 1 then
    return math.ceil((1 - tokens) * 1000 / rate)
  end
  redis.call('HSET', bucket, 't', tostring(tokens - 1), 'ts', now)
  redis.call('PEXPIRE', bucket, math.ceil(burst * 1000 / rate) + 1000)
  return 0
end

-- The revocation outbox: a hash in the user's slot, <prefix>:{<tag>}:o, field = event id,
-- value = '<revoked at ms> <expires at ms> <reason> <tag> [u=<user id>] <nonce> <nonce>...'.
-- u=<user id>: the user whose sessions ended, with '%' and ' ' percent-encoded (%25, %20),
-- since ' ' separates the value's parts; absent when they are not known to be one user's.
-- No nonce has a '=', so the token cannot be taken for one. The
-- script that ends sessions writes it, so an end and its event are one atomic step; the
-- relay (store/outbox.py) copies each entry to the revocation stream, which lives in
-- another slot, and then deletes it. The hash expires when its newest event stops mattering.

-- Notes in a pending-outbox index that the user's outbox may hold an event, so that the
-- relay of any replica finds it (see outbox_register.lua).
local function note_pending(index, member, when, ttl)
  redis.call('ZADD', index, when, member)
  if redis.call('PTTL', index) < tonumber(ttl) then
    redis.call('PEXPIRE', index, ttl)
  end
end

-- Records the event of the ended members (nothing when none ended). user: the user id
-- every one of them belonged to, read from their session hashes or checked against them,
-- or false (or '') when that is not known: two users may share a tag, so the tag alone
-- never names one. Scripts that can end sessions take the same five outbox ARGV from
-- ARGV[first]: event id, expires at (ms), reason, outbox TTL (ms), and when (ms) to note
-- the event, or '' when the caller noted it before the script (Redis Cluster, where the
-- pending-outbox indexes are in other slots). With a time, the last KEY is a
-- pending-outbox index (a single Redis, where every key is on one server): the event is
-- noted there in the same atomic step, and only if recorded.
local function record_ended(outbox, members, tag, user, now, first)
  if #members == 0 then
    return
  end
  local id, exp, reason, ttl, noted_at = ARGV[first], ARGV[first + 1], ARGV[first + 2],
    ARGV[first + 3], ARGV[first + 4]
  local head = now .. ' ' .. exp .. ' ' .. reason .. ' ' .. tag
  if user and user ~= '' then
    head = head .. ' u=' .. (string.gsub(user, '[ %%]', function(c)
      return string.format('%%%02X', string.byte(c))
    end))
  end
  redis.call('HSET', outbox, id, head .. ' ' .. table.concat(members, ' '))
  if redis.call('PTTL', outbox) < tonumber(ttl) then
    redis.call('PEXPIRE', outbox, ttl)
  end
  if noted_at ~= '' then
    note_pending(KEYS[#KEYS], tag .. ' ' .. id, noted_at, ttl)
  end
end
