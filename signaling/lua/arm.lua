-- Arm a fresh join token for a side (signaling/redis_store.py: RedisStore.arm): the
-- officer who answers (or answers again after a reload, or takes over a transfer) gets a
-- token of her own, bound to her login; the token armed before no longer opens the side.
-- KEYS[1]  the session hash
-- ARGV[1]  side             ARGV[2]  the new join-token hash
-- ARGV[3]  officer id the side is bound to ("" leaves the binding as it is)
-- Returns 1 when armed, 0 when the session is unknown or has ended.
if redis.call('HGET', KEYS[1], 'status') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1] .. ':token', ARGV[2], ARGV[1] .. ':used', '0')
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'officer_id', ARGV[3]) end
return 1
