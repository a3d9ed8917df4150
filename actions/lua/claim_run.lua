-- claim_run.lua (actions/state.py)
-- KEYS: run, claim; ARGV: owner, lease ms, resumable states (",running,"), then field/value pairs written when the
-- run is first claimed. A run in a resumable state whose claim lapsed (its worker died) is claimed again.
local state = redis.call('HGET', KEYS[1], 'state')
if state and not string.find(ARGV[3], ',' .. state .. ',', 1, true) then return {'settled', state} end
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'busy', state or ''} end
if not state then
  for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
redis.call('HSET', KEYS[1], 'state', 'running')
return {'claimed', ''}
