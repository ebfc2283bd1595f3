-- The messages in a side's mailbox after a seq (signaling/redis_store.py: RedisStore.pending).
-- KEYS[1]  the session hash
-- KEYS[2]  this side's mailbox
-- ARGV[1]  side             ARGV[2]  seq the messages must follow
-- Returns {first_seq, texts...} ({0} for an unknown session).
local s = redis.call('HMGET', KEYS[1], ARGV[1] .. ':acked')
if not s[1] then return {0} end
local acked = tonumber(s[1])
local from = math.max(tonumber(ARGV[2]), acked)
local texts = redis.call('LRANGE', KEYS[2], from - acked, -1)
local out = {from + 1}
for i, text in ipairs(texts) do out[i + 1] = text end
return out
