-- Claim due timers of one shard: any worker may call this; each due timer goes to one caller at a time.
-- KEYS[1] timer shard (zset: member -> due time); ARGV[1] now; ARGV[2] lease seconds; ARGV[3] limit
-- A claimed timer's score becomes now + lease: if its worker dies before completing it, it falls due again.
-- Returns {member, lease score, member, lease score, ...}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local lease = tostring(tonumber(ARGV[1]) + tonumber(ARGV[2]))
local out = {}
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], lease, member)
  out[#out + 1] = member
  out[#out + 1] = lease
end
return out
