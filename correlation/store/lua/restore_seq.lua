-- Raise a group's incident counter to at least ARGV[1] (never lower it): after Redis lost its data, the next
-- incident of the group gets a number past every id already issued.
-- KEYS[1] group hash. Returns 1 when it raised the counter.
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[1])
  redis.call('HINCRBY', KEYS[1], 'v', 1)
  return 1
end
return 0
