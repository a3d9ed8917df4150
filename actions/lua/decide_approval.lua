-- decide_approval.lua (actions/state.py)
-- KEYS: run; ARGV: decision (approved|rejected), who, now. Only a pending run can be decided.
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'pending_approval' then return state or '' end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3])
return 'ok'
