-- The officer takes the task offered to her (before the offer expires).
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] events stream
-- KEYS[4] statistics window (sorted set)
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now
-- ARGV[4] statistics older than this time are forgotten
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}.
local task, officer = KEYS[1], KEYS[2]
local now = tonumber(ARGV[3])
local st, off, oexp, cost, arr, line = unpack(redis.call('HMGET', task, 'st', 'off', 'oexp',
  'cost', 'arr', 'line'))
if st ~= 'offered' or off ~= ARGV[2] or redis.call('EXISTS', officer) == 0 then
  return refuse('not_offered', task, officer)
end
if tonumber(oexp) <= now then return refuse('offer_expired', task, officer) end
redis.call('HSET', task, 'st', 'assigned', 'ans', ARGV[3])
redis.call('HSET', officer, 'offer', '', 'missed', 0)
redis.call('HINCRBY', officer, 'load', tonumber(cost))
local tv = bump(task)
bump(officer)
local tj, oj = json_of(task), json_of(officer)
local wait = now - tonumber(arr)
local event_id = ARGV[1] .. '#' .. tv
emit(KEYS[3], 'accepted', event_id, ARGV[3], ARGV[2], tj, oj, cjson.encode({wait = wait}))
record_outcome(KEYS[4], ARGV[3], event_id, 'accepted', line, wait, ARGV[4])
return {'ok', '', tj, oj}
