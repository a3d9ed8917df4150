-- Link changes to an incident as probable causes, each once, with a timeline entry when new.
-- KEYS[1] incident hash; KEYS[2] its changes hash ("<service>|<id>" -> JSON link); KEYS[3] its timeline
-- ARGV[1] timeline cap; then triples: member, link JSON, timeline entry JSON
-- Returns {added count, every link JSON of the incident ...}; {-1} when the incident is gone
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { -1 }
end
local added = 0
for i = 2, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 1]) == 1 then
    added = added + 1
    redis.call('RPUSH', KEYS[3], ARGV[i + 2])
  end
end
if added > 0 then
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[1]), -1)
end
local out = { added }
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do out[#out + 1] = v end
return out
