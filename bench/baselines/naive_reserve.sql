-- pgbench script for the naive baseline (bench/hot_item.sh): one transaction per request,
-- the conditional decrement of the hot row, and an order row only when a unit was granted.
-- Every client queues on the single row lock of 'hot' until the previous holder commits.
BEGIN;
WITH granted AS (
  UPDATE naive_items SET available = available - 1
   WHERE id = 'hot' AND available > 0
  RETURNING id
)
INSERT INTO naive_orders (item_id, user_id)
SELECT id, 'u' || :client_id FROM granted;
COMMIT;
