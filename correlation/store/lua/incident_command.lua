-- Apply one person's change to an incident (acknowledge, resolve, assign, ...) as a compare-and-set on the
-- group's version, like apply_group.lua: a worker that read the group before this change fails its own
-- compare-and-set afterwards, reads again and decides on the changed incident (never overwriting it).
-- KEYS[1] group hash; KEYS[2] incident hash; KEYS[3] incident timeline (all in the group's hash slot)
-- ARGV[1] expected group version; ARGV[2] timeline entries kept; ARGV[3] n: the number of field/value
-- arguments that follow; ARGV[4 .. 3+n] field, value, ...; ARGV[4+n ..] timeline entries (JSON)
-- Returns {'ok', new version}, {'conflict', version} or {'missing'}.
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if version ~= tonumber(ARGV[1]) then
  return { 'conflict', tostring(version) }
end
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { 'missing' }
end
local n = tonumber(ARGV[3])
if n > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, 4, 3 + n))
end
local first = 4 + n
if #ARGV >= first then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, first, #ARGV))
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[2]), -1)
end
redis.call('HSET', KEYS[1], 'v', version + 1)
return { 'ok', tostring(version + 1) }
