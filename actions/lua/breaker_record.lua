-- breaker_record.lua (actions/state.py)
-- KEYS: breaker; ARGV: ok (1/0), threshold, cooldown, now. Returns 1 when this failure opened the breaker, 2 when
-- it opened it again (the half-open trial failed), else 0.
-- A success closes it. A failure while half-open (the trial's) opens it again at once for another cooldown; a
-- failure of a run that started before it opened, finishing while it is open, changes nothing.
if ARGV[1] == '1' then redis.call('DEL', KEYS[1]) return 0 end
local now = tonumber(ARGV[4])
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
if open_until > now then return 0 end
local fails = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if open_until > 0 or fails >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'open_until', now + tonumber(ARGV[3]), 'failures', 0, 'trial_until', 0)
  if open_until > 0 then return 2 end
  return 1
end
return 0
