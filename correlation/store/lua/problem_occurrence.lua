-- Count one incident against a problem rule's signature; open or extend the signature's problem.
-- All keys share the signature's hash tag. KEYS[1] occurrences zset (incident -> time); KEYS[2] signature
-- state hash (seq, open); ARGV[1] incident; ARGV[2] time; ARGV[3] window seconds (0: none); ARGV[4] count
-- that opens a problem; ARGV[5] problem key prefix ("<ns>:{p<sig>}:p:"); ARGV[6] problem id prefix
-- ("PRB-<sig>-"); ARGV[7 ..] the new problem's hash fields and values (without id and status)
-- Returns {'created'|'linked'|'dup'|'counted', problem id or occurrences counted}. A redelivered occurrence
-- of the incident that created the problem answers 'created' again, so its event is published again.
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local window = tonumber(ARGV[3])
if window > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. tostring(tonumber(ARGV[2]) - window))
end
local open = redis.call('HGET', KEYS[2], 'open')
if open and open ~= '' then
  local seq = string.match(open, '-(%d+)$')
  local key = ARGV[5] .. seq
  if redis.call('HGET', key, 'status') ~= 'resolved' then
    if redis.call('HGET', key, 'created_by') == ARGV[1] then
      return { 'created', open }
    end
    if redis.call('SADD', key .. ':incidents', ARGV[1]) == 1 then
      redis.call('HSET', key, 'updated_at', ARGV[2])
      return { 'linked', open }
    end
    return { 'dup', open }
  end
end
local n = redis.call('ZCARD', KEYS[1])
if n < tonumber(ARGV[4]) then
  return { 'counted', tostring(n) }
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
local id = ARGV[6] .. seq
local key = ARGV[5] .. seq
redis.call('HSET', key, 'id', id, 'status', 'open', 'created_by', ARGV[1], unpack(ARGV, 7))
redis.call('SADD', key .. ':incidents', unpack(redis.call('ZRANGE', KEYS[1], 0, -1)))
redis.call('HSET', KEYS[2], 'open', id)
return { 'created', id }
