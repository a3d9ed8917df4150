-- finish_run.lua (actions/state.py)
-- KEYS: run, claim; ARGV: owner, flat field/value pairs. Writes only while the claim is ours.
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('DEL', KEYS[2])
return 1
