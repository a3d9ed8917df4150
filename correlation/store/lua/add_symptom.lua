-- Attach a symptom (an alert of another group that this incident's alert explains) to the incident, once.
-- KEYS[1] incident hash; KEYS[2] its symptoms hash (group:fingerprint -> JSON); KEYS[3] its timeline;
-- KEYS[4 ..] one set per shared-root-cause problem rule: the services among its symptoms that rule counts
-- ARGV[1] group:fingerprint; ARGV[2] symptom JSON; ARGV[3] timeline entry JSON; ARGV[4] timeline cap;
-- ARGV[5 ..] the service to add to each KEYS[4 ..] set ("" when the symptom does not count for that rule)
-- Returns {added (0|1), incident title, the members of each service set ...}
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { 0, '' }
end
local added = redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
if added == 1 then
  redis.call('HINCRBY', KEYS[1], 'symptoms', 1)
  redis.call('RPUSH', KEYS[3], ARGV[3])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[4]), -1)
end
local out = { added, redis.call('HGET', KEYS[1], 'title') or '' }
for i = 4, #KEYS do
  local service = ARGV[i + 1]
  if service and service ~= '' then
    redis.call('SADD', KEYS[i], service)
  end
  out[#out + 1] = redis.call('SMEMBERS', KEYS[i])
end
return out
