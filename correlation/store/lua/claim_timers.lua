-- Claim due timers of one shard: any worker may call this; each due timer goes to one caller at a time.
-- KEYS[1] timer shard (zset: member -> due time); KEYS[2] its claims hash (member -> the attempt: the lease of the
-- first claim not completed yet); ARGV[1] now; ARGV[2] lease seconds; ARGV[3] limit
-- A claimed timer's score becomes now + lease: if its worker dies before completing it, it falls due again, and the
-- next claim keeps the attempt, so its worker finds the dead one's write under that attempt's marker and publishes
-- what it left undone (its follow-ups) before deciding again.
-- Returns {member, lease score, attempt, member, lease score, attempt, ...}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local lease = tostring(tonumber(ARGV[1]) + tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], lease, member)
  local attempt = redis.call('HGET', KEYS[2], member)
  if not attempt then
    attempt = lease
    redis.call('HSET', KEYS[2], member, attempt)
  end
  out[#out + 1] = member
  out[#out + 1] = lease
  out[#out + 1] = attempt
end
return out
