-- pgbench script for bench/cdc_lag.sh --cancel-pct P: cancels this client's most recent order
-- (placed by place.sql, which stores its id in :last_order) with fs_end_order, one
-- transaction: order.cancelled and inventory.changed (a unit back), or order.reserved
-- (promoted) too when someone was waiting. The id is then forgotten (set to all zeros), so a
-- second cancel in a row finds no order and writes nothing.
SELECT outcome, '00000000-0000-0000-0000-000000000000' AS last_order
  FROM fs_end_order(:last_order::uuid, NULL, 'cancel')
\gset
