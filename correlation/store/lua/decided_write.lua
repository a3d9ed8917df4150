-- Write fields of an incident (with timeline entries) only if the fields they were decided on are as read: a
-- compare-and-set on those fields rather than on the group's version, so the group's other writes (repeats raising
-- occurrences and updated_at, alerts joining) never make it fail, while a change it decided on does (an
-- acknowledgement, a resolution, a reopen, a priority change, a hold, another worker's write of the same fields),
-- and it is decided again. Used by the SLA records (correlation/store/sla.py) and escalations
-- (correlation/store/escalation_steps.py), each naming its fields. The group's version is raised, as by every
-- write of the group: a decision read before this one is made again.
-- KEYS[1] group hash; KEYS[2] incident hash; KEYS[3] incident timeline (all in the group's hash slot)
-- ARGV[1] timeline entries kept; ARGV[2] c: the number of field/value pairs as read that follow ('' for a field
-- that was missing); ARGV[3 .. 2+2c] those pairs; ARGV[3+2c] n: the number of field/value arguments to write;
-- then those n arguments; then the timeline entries (JSON).
-- Returns {'ok', new version}, {'conflict', the first field that changed} or {'missing'}.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { 'missing' }
end
local c = tonumber(ARGV[2])
for i = 3, 2 + 2 * c, 2 do
  if (redis.call('HGET', KEYS[2], ARGV[i]) or '') ~= ARGV[i + 1] then
    return { 'conflict', ARGV[i] }
  end
end
local at = 3 + 2 * c
local n = tonumber(ARGV[at])
if n > 0 then
  redis.call('HSET', KEYS[2], unpack(ARGV, at + 1, at + n))
end
local first = at + n + 1
if #ARGV >= first then
  redis.call('RPUSH', KEYS[3], unpack(ARGV, first, #ARGV))
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[1]), -1)
end
return { 'ok', tostring(redis.call('HINCRBY', KEYS[1], 'v', 1)) }
