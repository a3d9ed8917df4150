-- Put one incident back into a group after Redis lost its data, without overwriting anything live.
-- KEYS[1] group hash; KEYS[2] incident hash; KEYS[3] its :alerts set; KEYS[4] its :timeline list;
-- KEYS[5] its :symptoms hash; KEYS[6 ..] member alert state keys (all under the group's hash tag)
-- ARGV[1] the highest incident number the group ever issued; ARGV[2] 'current' or 'older' (closed to new alerts);
-- ARGV[3] the incident id; ARGV[4] timeline entry (JSON); ARGV[5] n incident hash fields (flat pairs follow);
-- then n members' alert states (JSON, in KEYS order); then symptom field, value pairs to the end.
-- Returns {restored (1: the incident hash was absent and is written), alert states written}.
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'seq', ARGV[1])  -- never issue an id the history holds
end
redis.call('HINCRBY', KEYS[1], 'v', 1)  -- a decision read before this conflicts and is made again
local restored = 0
if redis.call('EXISTS', KEYS[2]) == 0 then
  local nfields = tonumber(ARGV[5])
  redis.call('HSET', KEYS[2], unpack(ARGV, 6, 5 + nfields))
  redis.call('RPUSH', KEYS[4], ARGV[4])
  restored = 1
end
local id = ARGV[3]
local inc = redis.call('HGET', KEYS[1], 'inc')
local live = inc and inc ~= '' and inc ~= id
if live then
  local n = string.match(inc, '-(%d+)$')
  local prefix = string.sub(KEYS[2], 1, #KEYS[2] - #string.match(KEYS[2], '%d+$'))
  live = n and redis.call('EXISTS', prefix .. n) == 1
end
if ARGV[2] == 'current' and not live then
  redis.call('HSET', KEYS[1], 'inc', id)
elseif inc ~= id then
  local raw = redis.call('HGET', KEYS[1], 'older')
  local older = {}
  if raw and raw ~= '' and raw ~= '[]' then older = cjson.decode(raw) end
  local found = false
  for _, o in ipairs(older) do if o == id then found = true end end
  if not found then
    older[#older + 1] = id
    redis.call('HSET', KEYS[1], 'older', cjson.encode(older))
  end
end
local first = 6 + tonumber(ARGV[5])
local written = 0
for i = 6, #KEYS do
  local fp = string.match(KEYS[i], ':a:(.*)$')
  redis.call('SADD', KEYS[3], fp)
  if redis.call('SET', KEYS[i], ARGV[first + i - 6], 'NX') then written = written + 1 end
end
for i = first + #KEYS - 5, #ARGV, 2 do
  redis.call('HSETNX', KEYS[5], ARGV[i], ARGV[i + 1])
end
return { restored, written }
