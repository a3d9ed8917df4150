-- claim_retry.lua (actions/state.py)
-- KEYS: run, claim; ARGV: owner, lease ms, the attempt the caller read ("" when the run had none).
-- Claims a run for its next attempt: only while it is retrying (or running: its worker stopped mid-attempt, so only
-- once that claim lapsed) and its last attempt is still the one the caller read. Another worker's attempt since
-- (recorded, with its own retry timer) or a settled run: {'settled', state}; a claim held: {'busy', state}.
local h = redis.call('HMGET', KEYS[1], 'state', 'attempt')
local state = h[1]
if state ~= 'retrying' and state ~= 'running' then return {'settled', state or ''} end
if (h[2] or '') ~= ARGV[3] then return {'settled', state} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy', state} end
redis.call('HSET', KEYS[1], 'state', 'running')
return {'claimed', ''}
