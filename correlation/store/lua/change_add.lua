-- Store one change on its service, once per id, and trim the service's changes to the retention and the cap.
-- KEYS[1] the service's zset (id -> at); KEYS[2] its hash (id -> JSON)
-- ARGV[1] id; ARGV[2] at; ARGV[3] JSON; ARGV[4] oldest time kept; ARGV[5] cap; ARGV[6] key TTL (seconds)
-- Returns 1 when stored, 0 when a change with this id was already there (a duplicate: nothing changes), 2 when it
-- is older than the retention (stored and trimmed at once)
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local over = redis.call('ZCARD', KEYS[1]) - #old - tonumber(ARGV[5])
if over > 0 then
  local extra = redis.call('ZRANGE', KEYS[1], #old, #old + over - 1)
  for _, id in ipairs(extra) do old[#old + 1] = id end
end
for i = 1, #old, 500 do
  local chunk = { unpack(old, i, math.min(i + 499, #old)) }
  redis.call('HDEL', KEYS[2], unpack(chunk))
  redis.call('ZREM', KEYS[1], unpack(chunk))
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return 1
end
return 2
