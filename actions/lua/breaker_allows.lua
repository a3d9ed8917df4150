-- breaker_allows.lua (actions/state.py)
-- KEYS: breaker; ARGV: now, trial lease. 1: closed; 2: half-open and this run is the one trial (leased, so a trial
-- whose worker died lets another try after the lease); 0: open, or half-open with a trial under way.
local h = redis.call('HMGET', KEYS[1], 'open_until', 'trial_until')
local open_until = tonumber(h[1] or '0')
if open_until == 0 then return 1 end
local now = tonumber(ARGV[1])
if open_until > now then return 0 end
if tonumber(h[2] or '0') > now then return 0 end
redis.call('HSET', KEYS[1], 'trial_until', now + tonumber(ARGV[2]))
return 2
