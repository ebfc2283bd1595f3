-- The officer finished the task she holds: it ends 'completed'; her capacity is freed
-- and no new offer reaches her before ARGV[4] (wrap-up). When ARGV[6] names a task, it is
-- then offered to her in the same step if the rules allow (make_offer); if not, the
-- completion stands alone and the reason is returned.
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] set of active task ids
-- KEYS[4] events stream   KEYS[5] hash of the task to offer her next (any key if none)
-- KEYS[6] statistics window (sorted set)
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now  ARGV[4] wrap-up until
-- ARGV[5] seconds an ended task is remembered  ARGV[6] task to offer her next ('' if none)
-- ARGV[7] that offer expires  ARGV[8] its detail JSON
-- ARGV[9] statistics older than this time are forgotten
-- Returns {'ok'|'refused', reason, task JSON, officer JSON, '', JSON of the task asked to
-- be offered next ('' if none), why it was not offered ('' if it was, or none was asked)}.
local task, officer = KEYS[1], KEYS[2]
local now = tonumber(ARGV[3])
local st, off, cost, arr, ans, line = unpack(redis.call('HMGET', task, 'st', 'off', 'cost', 'arr',
  'ans', 'line'))
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
local handle = now - tonumber(ans)
local event_id = ARGV[1] .. '#' .. tv
emit(KEYS[4], 'completed', event_id, ARGV[3], ARGV[2], tj, oj,
  cjson.encode({handle = handle, wait = tonumber(ans) - tonumber(arr)}))
record_outcome(KEYS[6], ARGV[3], event_id, 'completed', line, handle, ARGV[9])
local nj, why = '', ''
if ARGV[6] ~= '' then
  local reason, offered_json, officer_json = make_offer(KEYS[4], KEYS[5], officer, ARGV[6],
    ARGV[2], ARGV[3], ARGV[7], ARGV[8])
  if reason then
    why, nj = reason, json_of(KEYS[5])
  else
    nj, oj = offered_json, officer_json
  end
end
return {'ok', '', tj, oj, '', nj, why}
