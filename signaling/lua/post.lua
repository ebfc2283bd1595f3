-- Put a message from the server in a side's mailbox, numbered after the others: a warm
-- transfer's chat and notices between a session and its colleague's seat
-- (signaling/redis_store.py: RedisStore.post).
-- KEYS[1]  the session hash
-- KEYS[2]  the side's mailbox
-- ARGV[1]  side             ARGV[2]  body (JSON without the opening brace and seq)
-- ARGV[3]  idle time to live, seconds
-- Returns {seq, text}, or {} when the session is unknown or has ended.
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return {} end
local out = redis.call('HINCRBY', KEYS[1], ARGV[1] .. ':out', 1)
local text = '{"seq":' .. out .. ',' .. ARGV[2]
redis.call('RPUSH', KEYS[2], text)
for i = 1, 2 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
return {out, text}
