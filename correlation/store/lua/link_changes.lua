-- Link changes to an incident as probable causes, each once, with a timeline entry when new.
-- KEYS[1] incident hash; KEYS[2] its changes hash ("<service>|<id>" -> JSON link); KEYS[3] its timeline
-- ARGV[1] timeline cap; then triples: member, link JSON, timeline entry JSON
-- Returns {added count, every link JSON of the incident ...}; {-1} when the incident is gone
-- When a link is new, the incident hash's field `changes` becomes every link as one JSON list, best first (the
-- order of correlation.core.probable_cause.rank): every event built from the record carries them.
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
local every = redis.call('HVALS', KEYS[2])
if added > 0 then
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[1]), -1)
  local order = { same_service = 0, dependency = 1, symptom = 2 }
  local items = {}
  for i, raw in ipairs(every) do
    local d = cjson.decode(raw)
    items[i] = { order[d.relation] or 3, tonumber(d.distance) or 0, -(tonumber(d.at) or 0), tostring(d.id), raw }
  end
  table.sort(items, function(a, b)
    for k = 1, 4 do
      if a[k] ~= b[k] then return a[k] < b[k] end
    end
    return false
  end)
  local ranked = {}
  for i, item in ipairs(items) do ranked[i] = item[5] end
  redis.call('HSET', KEYS[1], 'changes', '[' .. table.concat(ranked, ',') .. ']')
end
local out = { added }
for _, v in ipairs(every) do out[#out + 1] = v end
return out
