-- Offer a task to an officer if both are still free and the hard rules hold:
-- the task is waiting; the officer answers its service line; a female-only task
-- goes to a female officer; she is available, has no offer pending, is out of
-- wrap-up and has the capacity; she did not just decline or miss this task.
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] events stream
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now  ARGV[4] offer expires  ARGV[5] detail JSON
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}.
local task, officer = KEYS[1], KEYS[2]
local now = tonumber(ARGV[3])
local st, line, fonly, cost, shut = unpack(redis.call('HMGET', task, 'st', 'line', 'fonly', 'cost',
  'x' .. ARGV[2]))
if not st then return refuse('unknown_task', task, officer) end
local pres, offer, load, cap, wrap, gender, lines = unpack(redis.call('HMGET', officer, 'pres',
  'offer', 'load', 'cap', 'wrap', 'gender', 'lines'))
if not pres then return refuse('unknown_officer', task, officer) end
if st ~= 'waiting' then return refuse('task_not_waiting', task, officer) end
if not string.find(lines, '|' .. line .. '|', 1, true) or (fonly == '1' and gender ~= 'female') then
  return refuse('hard_rule', task, officer)
end
if pres ~= 'available' or offer ~= '' or tonumber(wrap) > now
    or tonumber(load) + tonumber(cost) > tonumber(cap) then
  return refuse('officer_not_free', task, officer)
end
if shut and tonumber(shut) > now then return refuse('excluded', task, officer) end
redis.call('HSET', task, 'st', 'offered', 'off', ARGV[2], 'oexp', ARGV[4])
redis.call('HSET', officer, 'offer', ARGV[1])
local tv = bump(task)
bump(officer)
local tj, oj = json_of(task), json_of(officer)
emit(KEYS[3], 'offered', ARGV[1] .. '#' .. tv, ARGV[3], ARGV[2], tj, oj, ARGV[5])
return {'ok', '', tj, oj}
