-- pgbench script for bench/cdc_lag.sh: one lifecycle transaction = one fs_place_batch call
-- with a single request, on a random item among cdc-1 .. cdc-:items, from a user who never
-- ordered before (per_user_limit is 1 and Idempotency-Keys are per user, so every call really
-- places an order). Typically 2 events: order.reserved (order.waiting once an item is sold
-- out) and inventory.changed.
-- Variables (pgbench -D): items, run (a number naming the phase), n=0 (a per-client counter:
-- pgbench keeps a client's variables from one transaction to the next). The user is
-- u<run>-<client_id>-<n>: unique in the run. The new order's id goes to :last_order for
-- cancel.sql (an all-zero id when nothing was placed).
\set n :n + 1
\set item random(1, :items)
SELECT outcome, COALESCE((body::jsonb) ->> 'id', '00000000-0000-0000-0000-000000000000') AS last_order
  FROM fs_place_batch('cdc-' || :item,
                      jsonb_build_array(jsonb_build_object('user', 'u' || :run || '-' || :client_id || '-' || :n,
                                                           'key', 'k')))
\gset
