-- Read one group's state in one round trip.
-- KEYS[1] group hash; KEYS[2..] alert state keys (same hash tag)
-- ARGV[1] the prefix of this group's incident keys ("<ns>:{g<gid>}:i:")
-- ARGV[2] the prefix of this group's alert keys ("<ns>:{g<gid>}:a:")
-- Returns { group hash as a flat list, current incident hash as a flat list, the group's older open incidents
--           (closed to new alerts by the rule's window) as a list of flat hashes, alert value or false ...,
--           then fingerprint, alert value pairs for the alerts the group's threshold holds back (field 'pending') }
-- (the held alerts' keys are computed here: they share the group's hash tag, so the same Cluster slot)
local group = redis.call('HGETALL', KEYS[1])
local incident = {}
local inc = redis.call('HGET', KEYS[1], 'inc')
if inc then
  local seq = string.match(inc, '-(%d+)$')
  if seq then
    incident = redis.call('HGETALL', ARGV[1] .. seq)
  end
end
local older = {}
local older_ids = redis.call('HGET', KEYS[1], 'older')
if older_ids and older_ids ~= '' and older_ids ~= '[]' then
  for _, id in ipairs(cjson.decode(older_ids)) do
    local seq = string.match(id, '-(%d+)$')
    if seq then
      older[#older + 1] = redis.call('HGETALL', ARGV[1] .. seq)
    end
  end
end
local out = { group, incident, older }
for i = 2, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i])
end
local pending = redis.call('HGET', KEYS[1], 'pending')
if pending and pending ~= '' and pending ~= '{}' then
  for fp, _ in pairs(cjson.decode(pending)) do
    out[#out + 1] = fp
    out[#out + 1] = redis.call('GET', ARGV[2] .. fp)
  end
end
return out
