-- Complete a claimed timer: remove it only if it still holds our lease (it was not rescheduled meanwhile).
-- KEYS[1] timer shard; ARGV[1] member; ARGV[2] the lease score returned by the claim
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
