-- Complete a claimed timer: remove it only if it still holds our lease (it was not rescheduled meanwhile), and end
-- our attempt (a rescheduled timer's next claim is a new attempt).
-- KEYS[1] timer shard; KEYS[2] its claims hash; ARGV[1] member; ARGV[2] the lease score returned by the claim;
-- ARGV[3] the attempt returned by the claim
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3] then
  redis.call('HDEL', KEYS[2], ARGV[1])
end
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
