-- rate_limit.lua (actions/state.py)
-- KEYS: one window per limit; ARGV: now, member, then (max, window) per key. All pass, or none is taken.
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local max, window = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZSCORE', key, ARGV[2]) == false and redis.call('ZCARD', key) >= max then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, math.ceil(tonumber(ARGV[2 + 2 * i]) * 1000) + 1000)
end
return 0
