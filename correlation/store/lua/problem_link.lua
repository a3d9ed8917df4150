-- A person links an incident to a problem, or unlinks it. All keys share the problem's hash tag.
-- KEYS[1] problem hash; KEYS[2] its :incidents set; KEYS[3] its :timeline list
-- ARGV[1] 'link' | 'unlink'; ARGV[2] incident id; ARGV[3] now; ARGV[4] timeline entry (JSON)
-- Returns 'missing' (no such problem), 'resolved' (link refused: the problem is resolved), 'changed' or 'same'.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
local changed
if ARGV[1] == 'link' then
  if status == 'resolved' then return 'resolved' end
  changed = redis.call('SADD', KEYS[2], ARGV[2])
else
  changed = redis.call('SREM', KEYS[2], ARGV[2])
end
if changed == 0 then return 'same' end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[4])
return 'changed'
