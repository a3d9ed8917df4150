-- A person moves a problem to known_error or resolved. All keys share the problem's hash tag.
-- KEYS[1] problem hash; KEYS[2] its :timeline list; KEYS[3] the signature's state hash (seq, open)
-- ARGV[1] new status; ARGV[2] now; ARGV[3] timeline entry (JSON); ARGV[4] the problem id
-- Returns 'missing', 'same' (already in that status), 'resolved' (a resolved problem stays resolved) or 'changed'.
-- Check and change in one script: a known-error racing a resolve can never bring a resolved problem back.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return 'missing' end
if status == ARGV[1] then return 'same' end
if status == 'resolved' then return 'resolved' end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2])
if ARGV[1] == 'resolved' then
  redis.call('HSET', KEYS[1], 'resolved_at', ARGV[2])
  if redis.call('HGET', KEYS[3], 'open') == ARGV[4] then redis.call('HDEL', KEYS[3], 'open') end
end
redis.call('RPUSH', KEYS[2], ARGV[3])
return 'changed'
