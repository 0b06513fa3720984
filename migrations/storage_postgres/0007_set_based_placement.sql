-- Placement without a per-request loop (issue 14). fs_place_batch, as in 0001, judges a batch of
-- N requests in a constant number of set-based statements instead of about a dozen per request:
-- claim the keys, then one statement that judges every request, inserts the orders and leases,
-- records the answers and updates the item. The rules are those of 0001, request by request in
-- arrival order; why the set-based form gives the same answers:
--  * a key's first request in the batch is judged; a repeat of it shares its fate (the order it
--    got, as 'replayed'; or the same rejection, which a judgment afresh would repeat, since
--    within a batch units only go and orders only come);
--  * the k-th claimed request of a user is within the per-user limit when the user's open
--    orders plus k are at most the limit; the requests within their limits are then numbered in
--    arrival order (n), and the first `available` get a unit, the next ones a place in line up
--    to the waitlist limit, the rest are sold out;
--  * a request over its user's limit is limit_exceeded when the user's open orders plus those
--    the batch gave them before it reach the limit, otherwise sold_out (the line was full first).

-- An order as the API shows it, with its active lease given (NULL or an ended one: none); for
-- the rows a statement is writing, which its own subqueries cannot see yet.
CREATE FUNCTION fs_order_json(o orders, p_position bigint, p_lease reservations) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'id', o.id,
    'item_id', o.item_id,
    'status', o.status,
    'waitlist_position', CASE WHEN o.status = 'waiting' THEN coalesce(p_position,
        (SELECT count(*) FROM orders w WHERE w.item_id = o.item_id AND w.status = 'waiting'
                                          AND w.waitlist_seq <= o.waitlist_seq)) END,
    'reservation', CASE WHEN p_lease.status = 'active' THEN
        jsonb_build_object('id', p_lease.id, 'expires_at', fs_ts(p_lease.expires_at)) END,
    'payment_link', o.payment_link,
    'reason', o.reason,
    'created_at', fs_ts(o.created_at),
    'updated_at', fs_ts(o.updated_at)))
$$;

-- The order's JSON as in 0001, now one representation with the one above.
CREATE OR REPLACE FUNCTION fs_order_json(o orders, p_position bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT fs_order_json(o, p_position, (SELECT r FROM reservations r
                                        WHERE r.order_id = o.id AND r.status = 'active'))
$$;

CREATE OR REPLACE FUNCTION fs_place_batch(p_item text, p_requests jsonb)
RETURNS TABLE (ord integer, outcome text, message text, body text) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  it items;
  gate text;          -- a rejection of every new request: the sale is paused, not open, closed
  gate_message text;
  capacity bigint;    -- new requests that can get a unit or a place in line
  c_users text[];     -- the keys this transaction claimed
  c_keys text[];
BEGIN
  SELECT * INTO it FROM items WHERE id = p_item FOR UPDATE;
  IF NOT FOUND THEN
    RETURN QUERY SELECT (r.n - 1)::integer, 'not_found'::text, 'no item ' || p_item, NULL::text
                   FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(v, n);
    RETURN;
  END IF;
  PERFORM fs_reclaim(p_item);
  PERFORM fs_promote(p_item);
  SELECT * INTO it FROM items WHERE id = p_item;
  IF it.paused THEN
    gate := 'sale_paused'; gate_message := 'the sale of ' || p_item || ' is paused';
  ELSIF now() < it.opens_at THEN
    gate := 'sale_not_open'; gate_message := 'the sale opens at ' || fs_ts(it.opens_at);
  ELSIF it.closes_at IS NOT NULL AND now() >= it.closes_at THEN
    gate := 'sale_closed'; gate_message := 'the sale closed at ' || fs_ts(it.closes_at);
  END IF;
  capacity := CASE WHEN gate IS NOT NULL THEN 0
                   WHEN it.waitlist_limit IS NULL THEN it.available::bigint + 2147483647
                   ELSE it.available + greatest(it.waitlist_limit - it.waiting, 0) END;

  -- Claim each key once, in key order (two batches claiming the same keys wait, never
  -- deadlock): a concurrent claim makes us wait for its transaction.
  WITH firsts AS (
    SELECT DISTINCT r.v ->> 'user' AS u, r.v ->> 'key' AS k
      FROM jsonb_array_elements(p_requests) AS r(v)
  ), claims AS (
    INSERT INTO idempotency_records (user_id, key, item_id)
    SELECT u, k, p_item FROM firsts ORDER BY u, k
    ON CONFLICT DO NOTHING
    RETURNING user_id, key
  )
  SELECT array_agg(user_id), array_agg(key) INTO c_users, c_keys FROM claims;

  RETURN QUERY
  WITH req AS (
    SELECT (r.n - 1)::integer AS ord, r.v ->> 'user' AS u, r.v ->> 'key' AS k
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(v, n)
  ), firsts AS (
    SELECT DISTINCT ON (q.u, q.k) q.ord, q.u, q.k FROM req q ORDER BY q.u, q.k, q.ord
  ), claimed AS (
    SELECT f.ord, f.u, f.k
      FROM firsts f JOIN unnest(c_users, c_keys) AS c(u, k) ON c.u = f.u AND c.k = f.k
  ), live AS (  -- each claiming user's open orders of the item
    SELECT o.user_id AS u, count(*) AS n FROM orders o
     WHERE o.item_id = p_item AND o.user_id = ANY (c_users)
       AND o.status IN ('waiting', 'reserved', 'confirmed')
     GROUP BY o.user_id
  ), within AS (
    SELECT c.ord, c.u, c.k, coalesce(l.n, 0) AS had,
           coalesce(l.n, 0) + row_number() OVER (PARTITION BY c.u ORDER BY c.ord)
             <= it.per_user_limit AS within_limit
      FROM claimed c LEFT JOIN live l ON l.u = c.u
  ), numbered AS (
    SELECT w.ord, w.u, w.k, w.had,
           CASE WHEN w.within_limit
                THEN count(*) FILTER (WHERE w.within_limit) OVER (ORDER BY w.ord) END AS n
      FROM within w
  ), judged AS (
    SELECT x.ord, x.u, x.k, x.n,
           CASE WHEN gate IS NOT NULL THEN gate
                WHEN x.n <= it.available THEN 'reserved'
                WHEN x.n <= capacity THEN 'waiting'
                WHEN x.had + count(*) FILTER (WHERE x.n <= capacity)
                       OVER (PARTITION BY x.u ORDER BY x.ord
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                     >= it.per_user_limit THEN 'limit_exceeded'
                ELSE 'sold_out' END AS outcome
      FROM numbered x
  ), placed AS (
    INSERT INTO orders (user_id, item_id, status, waitlist_seq)
    SELECT j.u, p_item, j.outcome, it.next_waitlist_seq + j.n - 1
      FROM judged j WHERE j.outcome IN ('reserved', 'waiting') ORDER BY j.n
    RETURNING *
  ), leased AS (
    INSERT INTO reservations (order_id, item_id, status, expires_at)
    SELECT p.id, p_item, 'active', now() + make_interval(secs => it.payment_window_s)
      FROM placed p WHERE p.status = 'reserved' ORDER BY p.waitlist_seq
    RETURNING *
  ), answered AS (
    SELECT j.ord, j.u, j.k, p.id AS order_id,
           fs_order_json(ROW(p.*)::orders, it.waiting + j.n - it.available,
                         ROW(l.*)::reservations) AS response
      FROM judged j
      JOIN placed p ON p.waitlist_seq = it.next_waitlist_seq + j.n - 1
      LEFT JOIN leased l ON l.order_id = p.id
  ), recorded AS (
    UPDATE idempotency_records r SET order_id = a.order_id, response = a.response
      FROM answered a WHERE r.user_id = a.u AND r.key = a.k
  ), forgotten AS (  -- rejections are not remembered: a retry with the same key is judged afresh
    DELETE FROM idempotency_records r USING judged j
     WHERE j.outcome NOT IN ('reserved', 'waiting') AND r.user_id = j.u AND r.key = j.k
  ), counted AS (
    UPDATE items i
       SET available = i.available - (SELECT count(*) FROM placed p WHERE p.status = 'reserved'),
           waiting = i.waiting + (SELECT count(*) FROM placed p WHERE p.status = 'waiting'),
           next_waitlist_seq = i.next_waitlist_seq + (SELECT count(*) FROM placed),
           updated_at = now()
     WHERE i.id = p_item AND EXISTS (SELECT 1 FROM placed)
  ), outcomes AS (  -- every request: its key's first request's fate
    SELECT q.ord, f.ord AS first_ord, j.outcome, a.response, rec.item_id AS rec_item,
           rec.response AS rec_response
      FROM req q
      JOIN firsts f ON f.u = q.u AND f.k = q.k
      LEFT JOIN judged j ON j.ord = f.ord
      LEFT JOIN answered a ON a.ord = f.ord
      LEFT JOIN idempotency_records rec  -- a key claimed before this batch
        ON j.ord IS NULL AND rec.user_id = q.u AND rec.key = q.k
  )
  SELECT x.ord,
         CASE WHEN x.outcome IS NULL THEN
                CASE WHEN x.rec_item <> p_item THEN 'idempotency_mismatch' ELSE 'replayed' END
              WHEN x.response IS NOT NULL AND x.ord <> x.first_ord THEN 'replayed'
              ELSE x.outcome END,
         CASE WHEN x.outcome IS NULL THEN
                CASE WHEN x.rec_item <> p_item
                     THEN 'this Idempotency-Key was used for item ' || x.rec_item END
              WHEN x.outcome = gate THEN gate_message
              WHEN x.outcome = 'limit_exceeded'
                THEN 'at most ' || it.per_user_limit || ' open order(s) per user for this item'
              WHEN x.outcome = 'sold_out'
                THEN p_item || ' is sold out and its waiting line is full' END,
         CASE WHEN x.outcome IS NULL THEN
                CASE WHEN x.rec_item <> p_item THEN NULL ELSE x.rec_response::text END
              ELSE x.response::text END
    FROM outcomes x ORDER BY x.ord;
END $$;
