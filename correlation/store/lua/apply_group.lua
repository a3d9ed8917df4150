-- Apply the decisions for one group from a batch of messages atomically: compare-and-set on the group
-- version, once per message (an idempotency marker per message).
-- KEYS[1] group hash; KEYS[2 .. 1+m] one idempotency marker per message; KEYS[2+m ..] keys the ops name
-- ARGV[1] expected version; ARGV[2] marker TTL seconds; ARGV[3] m; ARGV[4] number of ops;
-- ARGV[5 .. 4+m] per message: the follow-ups to store in its marker;
-- then the ops, flat: op, key index, n, arg 1 .. arg n; op in set|hset|sadd|rpush|ltrim
-- (flat arguments rather than a JSON document: no cjson.decode of escaped JSON inside Redis)
-- Returns {'dup', i, stored, j, stored, ...} (1-based message positions) when some messages were applied
-- before (nothing is written: the caller drops them and decides again), {'conflict', version} when the group
-- changed since it was read, {'ok', new version} after applying.
local m = tonumber(ARGV[3])
local dups = { 'dup' }
for i = 1, m do
  local stored = redis.call('GET', KEYS[1 + i])
  if stored then
    dups[#dups + 1] = tostring(i)
    dups[#dups + 1] = stored
  end
end
if #dups > 1 then
  return dups
end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) then
  return { 'conflict', tostring(version) }
end
local i = 5 + m
for _ = 1, tonumber(ARGV[4]) do
  local name = ARGV[i]
  local key = KEYS[tonumber(ARGV[i + 1])]
  local first = i + 3
  local last = i + 2 + tonumber(ARGV[i + 2])
  if name == 'set' then
    redis.call('SET', key, ARGV[first])
  elseif name == 'hset' then
    redis.call('HSET', key, unpack(ARGV, first, last))
  elseif name == 'sadd' then
    redis.call('SADD', key, unpack(ARGV, first, last))
  elseif name == 'rpush' then
    redis.call('RPUSH', key, unpack(ARGV, first, last))
  elseif name == 'ltrim' then
    redis.call('LTRIM', key, ARGV[first], ARGV[first + 1])
  else
    return redis.error_reply('unknown op ' .. tostring(name))
  end
  i = last + 1
end
redis.call('HSET', KEYS[1], 'v', version + 1)
for i = 1, m do
  redis.call('SET', KEYS[1 + i], ARGV[4 + i], 'EX', ARGV[2])
end
return { 'ok', tostring(version + 1) }
