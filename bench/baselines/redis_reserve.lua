-- Redis anchor for bench/hot_item.sh: what a seckill design keeps in Redis, as one script.
-- KEYS[1]: the item's stock counter; KEYS[2]: the user's marker (a per-user limit of one).
-- Returns 1 (a unit granted), 0 (sold out) or -1 (this user already took part).
-- Run on a redis-server with appendonly yes and appendfsync always: the script's writes are
-- in the AOF, fsynced, before the answer leaves (Redis fsyncs once per event-loop turn, so
-- answers to many clients share one fsync, as flashsale's batched commits do).
if redis.call('SET', KEYS[2], '1', 'NX') == false then
  return -1
end
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  redis.call('DECR', KEYS[1])
  return 1
end
return 0
