-- Offer a task to an officer if both are still free and the hard rules hold (make_offer).
-- KEYS[1] task hash   KEYS[2] officer hash   KEYS[3] events stream
-- ARGV[1] task id  ARGV[2] officer id  ARGV[3] now  ARGV[4] offer expires  ARGV[5] detail JSON
-- Returns {'ok'|'refused', reason, task JSON, officer JSON}.
local reason, tj, oj = make_offer(KEYS[3], KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4],
  ARGV[5])
if reason then return refuse(reason, KEYS[1], KEYS[2]) end
return {'ok', '', tj, oj}
