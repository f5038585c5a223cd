#!lua
-- dpop_replay: records the id of a DPoP proof (or of a logout token or security event),
-- refusing one recorded before (a replay).
-- KEYS[1] the proof's replay key, in its user's slot (or the token's, in a slot of its
--         issuer and jti; see keys.py)
-- ARGV[1] how long to remember it (ms): as long as the proof could still be accepted
-- Returns {OK}              the first use: recorded
--         {PROOF_REPLAYED}  recorded before: the proof is a replay
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return {OK}
end
return {PROOF_REPLAYED}
