-- A decline, or a timeout once due: the task goes back to its place in line and the
-- officer is not offered it again before ARGV[5]. A timeout is a miss; at the limit of
-- misses in a row she goes on break and a supervisor alert is raised. When ARGV[7] names a
-- task, it is then offered to her in the same step if the rules allow (make_offer).
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] events stream
-- KEYS[4] hash of the task to offer her next (any key if none)
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now  ARGV[4] 'declined' | 'offer_timed_out'
-- ARGV[5] exclude-until  ARGV[6] no-answer limit  ARGV[7] task to offer her next ('' if none)
-- ARGV[8] that offer expires  ARGV[9] its detail JSON
-- Returns {'ok'|'refused', reason, task JSON, officer JSON, '', JSON of the task asked to
-- be offered next ('' if none), why it was not offered ('' if it was, or none was asked)}.
local task, officer, stream = KEYS[1], KEYS[2], KEYS[3]
local now, kind = tonumber(ARGV[3]), ARGV[4]
local st, off, oexp = unpack(redis.call('HMGET', task, 'st', 'off', 'oexp'))
if st ~= 'offered' or off ~= ARGV[2] or redis.call('EXISTS', officer) == 0 then
  return refuse('not_offered', task, officer)
end
local timeout = kind == 'offer_timed_out'
if timeout and tonumber(oexp) > now then return refuse('not_due', task, officer) end
redis.call('HSET', task, 'st', 'waiting', 'off', '', 'oexp', 0)
if tonumber(ARGV[5]) > 0 then redis.call('HSET', task, 'x' .. ARGV[2], ARGV[5]) end
local missed = 0
if timeout then missed = redis.call('HINCRBY', officer, 'missed', 1) end
redis.call('HSET', officer, 'offer', '', 'missed', missed)
local alert = timeout and missed >= tonumber(ARGV[6])
  and redis.call('HGET', officer, 'pres') == 'available'
if alert then redis.call('HSET', officer, 'pres', 'break') end
local tv = bump(task)
local ov = bump(officer)
local tj, oj = json_of(task), json_of(officer)
emit(stream, kind, ARGV[1] .. '#' .. tv, ARGV[3], ARGV[2], tj, oj, '{}')
if alert then
  emit(stream, 'supervisor_alert', 'officer-' .. ARGV[2] .. '#' .. ov, ARGV[3], ARGV[2], '', oj,
    cjson.encode({reason = 'no_answer', missed = missed, presence = 'break'}))
end
local nj, why = '', ''
if ARGV[7] ~= '' then
  local reason, offered_json, officer_json = make_offer(stream, KEYS[4], officer, ARGV[7],
    ARGV[2], ARGV[3], ARGV[8], ARGV[9])
  if reason then
    why, nj = reason, json_of(KEYS[4])
  else
    nj, oj = offered_json, officer_json
  end
end
return {'ok', '', tj, oj, '', nj, why}
