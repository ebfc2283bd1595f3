-- One token bucket, in one step (safecall/ratelimit.py, RedisBuckets): look, or take and look.
-- KEYS[1] the bucket (a hash: tokens, updated)
-- ARGV[1] capacity  ARGV[2] refill per second  ARGV[3] now (seconds, the caller's clock)
-- ARGV[4] tokens to take (0: only look)
-- Returns the seconds until one whole token is there (0: now), as a string (Lua numbers
-- reach the caller as integers). A bucket left alone until it is full again is forgotten.
local capacity, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, amount = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil or updated == nil then tokens, updated = capacity, now end
local level = math.min(capacity, tokens + math.max(0, now - updated) * rate)
if amount > 0 then
  level = level - amount
  updated = math.max(updated, now)
  redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', level),
    'updated', string.format('%.17g', updated))
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - level) / rate * 1000) + 1000)
end
local missing = 1 - level
if missing <= 0 then return '0' end
return string.format('%.17g', missing / rate)
