-- Add an officer (offline) or update her profile, keeping her routing state.
-- KEYS[1] officer hash   KEYS[2] set of officer ids   KEYS[3] events stream
-- ARGV[1] officer id  ARGV[2] now  ARGV[3] capacity units  ARGV[4] gender
-- ARGV[5] lines "|a|b|"  ARGV[6] languages "|ur|en|"  ARGV[7] skills JSON  ARGV[8] district
-- Returns {'ok', '', '', officer JSON} (nothing written when the profile is unchanged).
local officer, now = KEYS[1], ARGV[2]
if redis.call('EXISTS', officer) == 1 then
  local g, l, la, s, d = unpack(redis.call('HMGET', officer, 'gender', 'lines', 'langs', 'skills', 'dist'))
  if g == ARGV[4] and l == ARGV[5] and la == ARGV[6] and s == ARGV[7] and d == ARGV[8] then
    return {'ok', '', '', json_of(officer)}
  end
  redis.call('HSET', officer, 'gender', ARGV[4], 'lines', ARGV[5], 'langs', ARGV[6],
    'skills', ARGV[7], 'dist', ARGV[8], 'cap', ARGV[3])
else
  redis.call('HSET', officer, 'id', ARGV[1], 'gender', ARGV[4], 'lines', ARGV[5],
    'langs', ARGV[6], 'skills', ARGV[7], 'dist', ARGV[8], 'cap', ARGV[3], 'pres', 'offline',
    'offer', '', 'load', 0, 'wrap', 0, 'idle', now, 'missed', 0, 'v', 0)
  redis.call('SADD', KEYS[2], ARGV[1])
end
local v = bump(officer)
local oj = json_of(officer)
local pres = redis.call('HGET', officer, 'pres')
emit(KEYS[3], 'officer_state', 'officer-' .. ARGV[1] .. '#' .. v, now, ARGV[1], '', oj,
  cjson.encode({presence = pres}))
return {'ok', '', '', oj}
