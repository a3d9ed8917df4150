-- Declare an incident for a service (issue 21), or join the one open for it: a group has at most one open
-- incident, so a second report while it is open is recorded on it ("also reported by") instead of opening another.
-- KEYS[1] the declared group's hash (v, seq, inc); KEYS[2] its incident key prefix (<ns>:{g<gid>}:i:)
-- ARGV[1] incident id prefix (INC-<gid>-); ARGV[2] timeline cap; ARGV[3] reporter; ARGV[4] now (repr)
-- ARGV[5] the "also reported by" timeline entry (JSON); ARGV[6] the "declared" timeline entry (JSON)
-- ARGV[7 ..] the new incident's fields, name, value, ... (without id)
-- Returns {'joined' | 'created', incident id, new group version}, or {'collision'} when the group exists and is
-- not a declared one (an alert group with the same id: nothing is written).
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version > 0 and redis.call('HGET', KEYS[1], 'declared') ~= '1' then
  return { 'collision' }
end
local current = redis.call('HGET', KEYS[1], 'inc')
if current then
  local key = KEYS[2] .. string.match(current, '%-(%d+)$')
  local status = redis.call('HGET', key, 'status')
  if status == 'open' or status == 'acknowledged' then
    local raw = redis.call('HGET', key, 'also_reported_by')
    local reporters = {}
    if raw and raw ~= '' then reporters = cjson.decode(raw) end
    local seen = false
    for _, name in ipairs(reporters) do
      if name == ARGV[3] then seen = true end
    end
    if not seen then
      reporters[#reporters + 1] = ARGV[3]
      redis.call('HSET', key, 'also_reported_by', cjson.encode(reporters))
    end
    redis.call('HSET', key, 'updated_at', ARGV[4])
    redis.call('RPUSH', key .. ':timeline', ARGV[5])
    redis.call('LTRIM', key .. ':timeline', -tonumber(ARGV[2]), -1)
    redis.call('HSET', KEYS[1], 'v', version + 1)
    return { 'joined', current, tostring(version + 1) }
  end
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local id = ARGV[1] .. seq
local key = KEYS[2] .. seq
redis.call('HSET', key, 'id', id, unpack(ARGV, 7, #ARGV))
redis.call('RPUSH', key .. ':timeline', ARGV[6])
redis.call('HSET', KEYS[1], 'inc', id, 'v', version + 1, 'declared', '1')
return { 'created', id, tostring(version + 1) }
