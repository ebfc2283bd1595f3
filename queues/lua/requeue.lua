-- Put a task back in line, keeping its arrival: after a drop ('returned'), a transfer
-- ('transferred') or a supervisor's move ('moved'). The officer it was offered to or
-- held by is freed (a holder's wrap-up runs until ARGV[11]).
-- KEYS[1] task hash   KEYS[2] hash of the officer it is offered to or held by (any key
-- if none)   KEYS[3] events stream
-- ARGV[1] task id  ARGV[2] now  ARGV[3] event kind  ARGV[4] service line
-- ARGV[5] female only '1'|'0'  ARGV[6] priority  ARGV[7] time-to-live (time)
-- ARGV[8] known officer ('' for none)  ARGV[9] known-officer window end
-- ARGV[10] holder: it must be held by this officer ('' for no such condition)
-- ARGV[11] wrap-up until  ARGV[12] officer the caller believes has it ('' if none)
-- ARGV[13] detail JSON
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}; reason 'retry' when another
-- officer than ARGV[12] has it.
local task, officer = KEYS[1], KEYS[2]
local st, off, cost = unpack(redis.call('HMGET', task, 'st', 'off', 'cost'))
if not st then return refuse('unknown_task', task, officer) end
if ENDED[st] then return refuse('ended', task, officer) end
if ARGV[10] ~= '' and (st ~= 'assigned' or off ~= ARGV[10]) then
  return refuse('not_yours', task, officer)
end
if off ~= ARGV[12] then return refuse('retry', task, officer) end
local oj = ''
if off ~= '' then
  if st == 'assigned' then
    free_capacity(officer, cost, ARGV[11])
  else
    redis.call('HSET', officer, 'offer', '')
  end
  bump(officer)
  oj = json_of(officer)
end
redis.call('HSET', task, 'st', 'waiting', 'off', '', 'oexp', 0, 'line', ARGV[4],
  'fonly', ARGV[5], 'prio', ARGV[6], 'ttl', ARGV[7], 'known', ARGV[8], 'known_until', ARGV[9])
local tv = bump(task)
local tj = json_of(task)
emit(KEYS[3], ARGV[3], ARGV[1] .. '#' .. tv, ARGV[2], off, tj, oj, ARGV[13])
return {'ok', '', tj, oj}
