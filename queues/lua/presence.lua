-- Set an officer's presence. Going on break or offline withdraws her pending offer
-- (the task keeps its place); going available ends wrap-up and resets missed offers.
-- When ARGV[6] names a task and her presence changed, it is then offered to her in the
-- same step if the rules allow (make_offer).
-- KEYS[1] officer hash   KEYS[2] hash of the task offered to her (any key if none)
-- KEYS[3] events stream   KEYS[4] hash of the task to offer her next (any key if none)
-- ARGV[1] officer id  ARGV[2] presence  ARGV[3] now  ARGV[4] exclude-until
-- ARGV[5] id of the task the caller believes is offered to her ('' if none)
-- ARGV[6] task to offer her next ('' if none)  ARGV[7] that offer expires
-- ARGV[8] its detail JSON
-- Returns {'ok'|'refused', reason, task JSON, officer JSON, '', JSON of the task asked to
-- be offered next ('' if none), why it was not offered ('' if it was, or none was asked)}; reason 'retry' when
-- the pending offer is not ARGV[5] (call again with the right task key).
local officer, task, stream = KEYS[1], KEYS[2], KEYS[3]
local oid, presence, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', officer) == 0 then return refuse('unknown_officer', task, officer) end
local pres, offer, load, wrap = unpack(redis.call('HMGET', officer, 'pres', 'offer', 'load', 'wrap'))
if offer ~= ARGV[5] then return refuse('retry', task, officer) end
if presence == pres and not (presence == 'available' and tonumber(wrap) > tonumber(now)) then
  return {'ok', 'unchanged', '', json_of(officer)}
end
local tj = ''
if presence ~= 'available' and offer ~= '' then
  redis.call('HSET', task, 'st', 'waiting', 'off', '', 'oexp', 0)
  if tonumber(ARGV[4]) > 0 then redis.call('HSET', task, 'x' .. oid, ARGV[4]) end
  redis.call('HSET', officer, 'offer', '')
  local tv = bump(task)
  tj = json_of(task)
  emit(stream, 'offer_withdrawn', offer .. '#' .. tv, now, oid, tj, json_of(officer), '{}')
end
if presence == 'available' then
  if pres ~= 'available' and tonumber(load) == 0 then redis.call('HSET', officer, 'idle', now) end
  redis.call('HSET', officer, 'missed', 0)
  if tonumber(wrap) > tonumber(now) then redis.call('HSET', officer, 'wrap', now) end
end
redis.call('HSET', officer, 'pres', presence)
local v = bump(officer)
local oj = json_of(officer)
emit(stream, 'officer_state', 'officer-' .. oid .. '#' .. v, now, oid, '', oj,
  cjson.encode({presence = presence}))
local nj, why = '', ''
if ARGV[6] ~= '' then
  local reason, offered_json, officer_json = make_offer(stream, KEYS[4], officer, ARGV[6], oid,
    now, ARGV[7], ARGV[8])
  if reason then
    why, nj = reason, json_of(KEYS[4])
  else
    nj, oj = offered_json, officer_json
  end
end
return {'ok', '', tj, oj, '', nj, why}
