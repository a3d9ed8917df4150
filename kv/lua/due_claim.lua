-- Claim due timers of one shard, of the caller's kinds only: each due timer goes to one caller at a time.
-- KEYS: one sorted set per kind (timer key -> due time), all of one shard, so one Cluster slot
-- ARGV[1] now; ARGV[2] lease seconds; ARGV[3] limit per kind
-- A claimed timer's score becomes now + lease: if its caller dies before completing it, it falls due again then.
-- Returns {the claimed score, {timer keys claimed from KEYS[1]}, {... from KEYS[2]}, ...}
local limit = tonumber(ARGV[3])
local lease = tostring(tonumber(ARGV[1]) + tonumber(ARGV[2]))
local out = {lease}
for i, key in ipairs(KEYS) do
  local due = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[1], 'LIMIT', 0, limit)
  for _, member in ipairs(due) do
    redis.call('ZADD', key, lease, member)
  end
  out[i + 1] = due
end
return out
