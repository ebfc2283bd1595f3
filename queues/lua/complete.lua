-- The officer finished the task she holds: it ends 'completed'; her capacity is freed
-- and no new offer reaches her before ARGV[4] (wrap-up).
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] set of active task ids
-- KEYS[4] events stream
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now  ARGV[4] wrap-up until
-- ARGV[5] seconds an ended task is remembered
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}.
local task, officer = KEYS[1], KEYS[2]
local now = tonumber(ARGV[3])
local st, off, cost, arr, ans = unpack(redis.call('HMGET', task, 'st', 'off', 'cost', 'arr', 'ans'))
if st ~= 'assigned' or off ~= ARGV[2] or redis.call('EXISTS', officer) == 0 then
  return refuse('not_yours', task, officer)
end
free_capacity(officer, cost, ARGV[4])
bump(officer)
redis.call('HSET', task, 'st', 'completed', 'off', '')
redis.call('SREM', KEYS[3], ARGV[1])
local tv = bump(task)
redis.call('EXPIRE', task, tonumber(ARGV[5]))
local tj, oj = json_of(task), json_of(officer)
emit(KEYS[4], 'completed', ARGV[1] .. '#' .. tv, ARGV[3], ARGV[2], tj, oj,
  cjson.encode({handle = now - tonumber(ans), wait = tonumber(ans) - tonumber(arr)}))
return {'ok', '', tj, oj}
