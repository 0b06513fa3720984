-- pgbench script for bench/cdc_lag.sh --batch B: like place.sql, but one fs_place_batch call
-- carries :batch requests for one item, as the service's coalescer does for a hot item: one
-- transaction, B orders, so B order.reserved events and one inventory.changed. Users are
-- u<run>-<client_id>-<n>-<1..B>.
\set n :n + 1
\set item random(1, :items)
SELECT count(*) AS placed
  FROM fs_place_batch('cdc-' || :item,
                      (SELECT jsonb_agg(jsonb_build_object('user', 'u' || :run || '-' || :client_id || '-' || :n || '-' || g,
                                                           'key', 'k'))
                         FROM generate_series(1, :batch::int) AS g))
\gset
