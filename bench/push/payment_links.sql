-- bench/ws_push.sh: one transaction makes :k payment_link.ready events, one for each of k
-- consecutive bench users (bench_users: user number -> order id, made by the script). The
-- event mapper emits payment_link.ready for an orders UPDATE whose old row has no payment_link
-- and whose new row has one, so the link is taken away and given back in one transaction.
-- Client c only ever touches batches b with b % clients = c: no two clients wait on a row lock.
-- Variables (-D): k (users per transaction), nbatches (users / k), clients (pgbench -c).
\set r random(0, (:nbatches - 1 - :client_id) / :clients)
\set lo (:client_id + :clients * :r) * :k
\set hi :lo + :k
BEGIN;
UPDATE orders SET payment_link = NULL
 WHERE id IN (SELECT order_id FROM bench_users WHERE n >= :lo AND n < :hi);
UPDATE orders SET payment_link = 'https://pay.example.test/checkout/' || id
 WHERE id IN (SELECT order_id FROM bench_users WHERE n >= :lo AND n < :hi);
COMMIT;
