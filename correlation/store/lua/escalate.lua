-- Escalate an incident one priority step, once per reason (correlation/store/escalation.py).
-- KEYS: group, incident, timeline, marker; ARGV: now, text prefix, timeline max, marker ttl
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[4]) then return {'dup'} end
local before = redis.call('HGET', KEYS[2], 'priority') or ''
local up = {P5 = 'P4', P4 = 'P3', P3 = 'P2', P2 = 'P1', P1 = 'P1'}
local after = up[before] or before
redis.call('HSET', KEYS[2], 'priority', after, 'updated_at', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'v', 1)
local text = ARGV[2]
if after ~= before then text = text .. ': priority ' .. before .. ' -> ' .. after end
redis.call('RPUSH', KEYS[3], cjson.encode({at = tonumber(ARGV[1]), kind = 'escalated', text = text}))
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
return {'ok', before, after}
