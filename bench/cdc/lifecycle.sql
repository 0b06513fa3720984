-- pgbench script for bench/cdc_lag.sh --mix lifecycle: one order's whole happy path as three
-- lifecycle transactions, the ones every sold unit goes through: the placement (fs_place_batch,
-- one request: order.reserved + inventory.changed), its payment link (the storage plugin's
-- set_payment_link statement: payment_link.ready) and the payment (fs_record_payment, as the
-- webhook does: order.confirmed). pgbench counts the three as one "transaction"; the script
-- runs at RATE / 3 so the database sees RATE lifecycle transactions/s.
-- Variables (pgbench -D): items, run, n=0, as in place.sql.
\set n :n + 1
\set item random(1, :items)
SELECT COALESCE((body::jsonb) ->> 'id', '00000000-0000-0000-0000-000000000000') AS last_order
  FROM fs_place_batch('cdc-' || :item,
                      jsonb_build_array(jsonb_build_object('user', 'u' || :run || '-' || :client_id || '-' || :n,
                                                           'key', 'k')))
\gset
UPDATE orders SET payment_link = 'https://pay.example.test/' || id, updated_at = now()
 WHERE id = :last_order::uuid AND status = 'reserved' AND payment_link IS NULL;
SELECT result FROM fs_record_payment('pay-' || :last_order::text, :last_order::uuid, 'succeeded');
