-- Read one group's state in one round trip.
-- KEYS[1] group hash; KEYS[2..] alert state keys (same hash tag)
-- ARGV[1] the prefix of this group's incident keys ("<ns>:{g<gid>}:i:")
-- Returns { group hash as a flat list, current incident hash as a flat list, alert value or false ... }
local group = redis.call('HGETALL', KEYS[1])
local incident = {}
local inc = redis.call('HGET', KEYS[1], 'inc')
if inc then
  local seq = string.match(inc, '-(%d+)$')
  if seq then
    incident = redis.call('HGETALL', ARGV[1] .. seq)
  end
end
local out = { group, incident }
for i = 2, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i])
end
return out
