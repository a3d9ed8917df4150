-- Attach an alert to an incident (a person's link, issue 21), or detach it: the alert stays in its own group and
-- is listed among the incident's symptoms (alerts of other groups it explains), counted on the incident.
-- KEYS[1] the incident's group hash; KEYS[2] incident hash; KEYS[3] its symptoms hash; KEYS[4] its timeline
-- ARGV[1] 'attach' | 'detach'; ARGV[2] <gid>:<fingerprint>; ARGV[3] symptom JSON; ARGV[4] timeline entry JSON;
-- ARGV[5] timeline cap; ARGV[6] now (repr)
-- Returns {'missing'}, {'unchanged', version} or {'ok', new group version}.
if redis.call('EXISTS', KEYS[2]) == 0 then
  return { 'missing' }
end
local version = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local changed
if ARGV[1] == 'attach' then
  changed = redis.call('HSETNX', KEYS[3], ARGV[2], ARGV[3])
  if changed == 1 then redis.call('HINCRBY', KEYS[2], 'symptoms', 1) end
else
  changed = redis.call('HDEL', KEYS[3], ARGV[2])
  if changed == 1 then redis.call('HINCRBY', KEYS[2], 'symptoms', -1) end
end
if changed == 0 then
  return { 'unchanged', tostring(version) }
end
redis.call('HSET', KEYS[2], 'updated_at', ARGV[6])
redis.call('RPUSH', KEYS[4], ARGV[4])
redis.call('LTRIM', KEYS[4], -tonumber(ARGV[5]), -1)
redis.call('HSET', KEYS[1], 'v', version + 1)
return { 'ok', tostring(version + 1) }
