-- One PIN attempt on a case, charged before the PIN is checked (safecall/ratelimit.py,
-- RedisTrackingLimiter.pin_attempt): parallel guesses cannot all slip through one gap.
-- KEYS[1] the case's attempts (a hash: attempts, last, blocked)
-- ARGV[1] now (seconds, the caller's clock)  ARGV[2] free attempts  ARGV[3] first delay
-- ARGV[4] longest delay  ARGV[5] forget after (seconds without an attempt)
-- Returns {refused: seconds to wait before trying (0: she may try now),
--          if_wrong: seconds she will wait after this one if it is wrong}, as strings.
local now, free = tonumber(ARGV[1]), tonumber(ARGV[2])
local first, longest, forget = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', KEYS[1], 'attempts', 'last', 'blocked')
local attempts, last, blocked = tonumber(state[1]), tonumber(state[2]), tonumber(state[3])
if attempts == nil or last == nil or blocked == nil or now - last >= forget then
  attempts, last, blocked = 0, now, now
end
if blocked > now then
  return {string.format('%.17g', blocked - now), '0'}
end
attempts = attempts + 1
local beyond = attempts - free
local wait = 0
if beyond > 0 then wait = math.min(longest, first * 2 ^ math.min(beyond - 1, 30)) end
redis.call('HSET', KEYS[1], 'attempts', attempts, 'last', string.format('%.17g', now),
  'blocked', string.format('%.17g', now + wait))
redis.call('PEXPIRE', KEYS[1], math.ceil((forget + wait) * 1000))
return {'0', string.format('%.17g', wait)}
