-- Apply one decision to one group atomically, once per message (compare-and-set on the group version).
-- KEYS[1] group hash; KEYS[2] idempotency marker for (message, group); KEYS[3..] keys the ops name by index
-- ARGV[1] expected version; ARGV[2] marker TTL seconds; ARGV[3] follow-ups to store in the marker;
-- ARGV[4] ops as JSON: [[op, key index, arg...], ...] with op in set|hset|sadd|rpush|ltrim
-- Returns {'dup', stored follow-ups} when the message was applied before, {'conflict', version} when the
-- group changed since it was read, {'ok', new version} after applying.
local stored = redis.call('GET', KEYS[2])
if stored then
  return { 'dup', stored }
end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) then
  return { 'conflict', tostring(version) }
end
for _, op in ipairs(cjson.decode(ARGV[4])) do
  local name = op[1]
  local key = KEYS[op[2]]
  if name == 'set' then
    redis.call('SET', key, op[3])
  elseif name == 'hset' then
    redis.call('HSET', key, unpack(op, 3))
  elseif name == 'sadd' then
    redis.call('SADD', key, unpack(op, 3))
  elseif name == 'rpush' then
    redis.call('RPUSH', key, unpack(op, 3))
  elseif name == 'ltrim' then
    redis.call('LTRIM', key, op[3], op[4])
  else
    return redis.error_reply('unknown op ' .. tostring(name))
  end
end
redis.call('HSET', KEYS[1], 'v', version + 1)
redis.call('SET', KEYS[2], ARGV[3], 'EX', ARGV[2])
return { 'ok', tostring(version + 1) }
