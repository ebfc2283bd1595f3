-- A page has every message up to a seq: drop them from its mailbox
-- (signaling/redis_store.py: RedisStore.ack).
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox
-- ARGV[1]  side             ARGV[2]  seq (cumulative; clamped to the last one sent)
-- Returns the side's acknowledged seq after the call (0 for an unknown session).
local s = redis.call('HMGET', KEYS[1], ARGV[1] .. ':acked', ARGV[1] .. ':out')
if not s[1] then return 0 end
local acked = tonumber(s[1])
local upto = math.min(tonumber(ARGV[2]), tonumber(s[2]))
if upto > acked then
  redis.call('LTRIM', KEYS[2], upto - acked, -1)
  redis.call('HSET', KEYS[1], ARGV[1] .. ':acked', upto)
  acked = upto
end
return acked
