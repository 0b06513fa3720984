-- Placement without a per-request loop (issue 14). fs_place_batch, as in 0001, judges a batch of
-- N requests in three set-based statements instead of about a dozen per request: judge every
-- request and write the orders, leases and the item's counts; record the new orders' answers
-- under their keys; return every answer. The rules are those of 0001, request by request in
-- arrival order; why the set-based form gives the same answers:
--  * a key's first request in the batch is judged; a repeat of it shares its fate (the order it
--    got, as 'replayed'; or the same rejection, which a judgment afresh would repeat, since
--    within a batch units only go and orders only come);
--  * the k-th claimed request of a user is within the per-user limit when the user's open
--    orders plus k are at most the limit; the requests within their limits are then numbered in
--    arrival order (n), and the first `available` get a unit, the next ones a place in line up
--    to the waitlist limit, the rest are sold out;
--  * a request over its user's limit is limit_exceeded when the user's open orders plus those
--    the batch gave them before it reach the limit, otherwise sold_out (the line was full first);
--  * keys are no longer claimed before judging (0001 inserted a record per request, and deleted
--    it again for a refusal): a key with a committed record is replayed, and a new order's
--    record is written once, with its answer. A key that another transaction recorded meanwhile
--    (the same request racing on two items) makes the insert find it; the batch then fails with
--    serialization_failure, and its retry replays that answer.

-- Its plans are cached per connection from the first calls on, when the tables may be small (a
-- pool connecting at the start of a sale). So every read of a large table is a lookup by key
-- that the planner cannot turn into a join (LATERAL ... LIMIT 1, or an aggregate), on the
-- columns of one index only, and sequential scans are off: each lookup stays on its index
-- however the tables grow. (Joins planned on small tables, hash or merge over whole tables, ran
-- at 0.4x the loop's rate; a user's orders of the item read through the item's index took
-- 0.45 s per batch of 256 once the item had 60,000 orders.)
CREATE OR REPLACE FUNCTION fs_place_batch(p_item text, p_requests jsonb)
RETURNS TABLE (ord integer, outcome text, message text, body text) LANGUAGE plpgsql
SET enable_seqscan = off AS $$
#variable_conflict use_column
DECLARE
  it items;
  gate text;          -- a refusal of every new request: the sale is paused, not open, closed
  gate_message text;
  capacity bigint;    -- new requests that can get a unit or a place in line
  j_ord integer[];    -- the new requests (each key's first without a record), as judged
  j_outcome text[];
  j_n bigint[];
  j_order uuid[];
  a_ord integer[];    -- the new orders' answers, as recorded
  a_response jsonb[];
  recorded bigint;
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

  -- 1. Judge the new requests, then write the orders, their leases and the item's counts.
  WITH req AS (
    SELECT (r.n - 1)::integer AS ord, r.v ->> 'user' AS u, r.v ->> 'key' AS k
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(v, n)
  ), fresh AS (  -- each key's first request, when no committed record answers the key
    SELECT DISTINCT ON (q.u, q.k) q.ord, q.u, q.k FROM req q
      LEFT JOIN LATERAL (SELECT true AS found FROM idempotency_records r
                          WHERE r.user_id = q.u AND r.key = q.k LIMIT 1) rec ON true
     WHERE rec.found IS NULL
     ORDER BY q.u, q.k, q.ord
  ), within AS (
    SELECT c.ord, c.u, l.had,
           l.had + row_number() OVER (PARTITION BY c.u ORDER BY c.ord)
             <= it.per_user_limit AS within_limit
      FROM fresh c
      CROSS JOIN LATERAL (  -- the user's open orders of the item, among all the user's orders
        SELECT count(*) FILTER (WHERE o.item_id = p_item
                                  AND o.status IN ('waiting', 'reserved', 'confirmed')) AS had
          FROM orders o WHERE o.user_id = c.u) l
  ), numbered AS (  -- n: the place among the requests within their users' limits
    SELECT w.ord, w.u, w.had,
           CASE WHEN w.within_limit
                THEN count(*) FILTER (WHERE w.within_limit) OVER (ORDER BY w.ord) END AS n
      FROM within w
  ), judged AS (
    SELECT x.ord, x.u, x.n,
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
    RETURNING id, status, waitlist_seq
  ), leased AS (
    INSERT INTO reservations (order_id, item_id, status, expires_at)
    SELECT p.id, p_item, 'active', now() + make_interval(secs => it.payment_window_s)
      FROM placed p WHERE p.status = 'reserved' ORDER BY p.waitlist_seq
  ), counted AS (
    UPDATE items i
       SET available = i.available - c.reserved, waiting = i.waiting + c.waiting,
           next_waitlist_seq = i.next_waitlist_seq + c.placed, updated_at = now()
      FROM (SELECT count(*) FILTER (WHERE p.status = 'reserved') AS reserved,
                   count(*) FILTER (WHERE p.status = 'waiting') AS waiting,
                   count(*) AS placed
              FROM placed p) c
     WHERE i.id = p_item AND c.placed > 0
  )
  SELECT array_agg(j.ord), array_agg(j.outcome), array_agg(j.n), array_agg(p.id)
    INTO j_ord, j_outcome, j_n, j_order
    FROM judged j LEFT JOIN placed p ON p.waitlist_seq = it.next_waitlist_seq + j.n - 1;

  -- 2. Record each new order's answer under its key, in key order (fs_order_json sees the
  -- leases now). Refusals are not recorded: a retry with the same key is judged afresh.
  WITH answered AS (
    SELECT j.ord, p_requests -> j.ord ->> 'user' AS u, p_requests -> j.ord ->> 'key' AS k,
           j.order_id, fs_order_json(o.o, it.waiting + j.n - it.available) AS response
      FROM unnest(j_ord, j_n, j_order) AS j(ord, n, order_id)
      CROSS JOIN LATERAL (SELECT o FROM orders o WHERE o.id = j.order_id LIMIT 1) o
  ), inserted AS (
    INSERT INTO idempotency_records (user_id, key, item_id, order_id, response)
    SELECT a.u, a.k, p_item, a.order_id, a.response FROM answered a ORDER BY a.u, a.k
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT array_agg(a.ord), array_agg(a.response), (SELECT count(*) FROM inserted)
    INTO a_ord, a_response, recorded
    FROM answered a;
  IF recorded < coalesce(cardinality(a_ord), 0) THEN
    RAISE EXCEPTION 'an Idempotency-Key of this batch was recorded meanwhile by another transaction'
      USING ERRCODE = 'serialization_failure';
  END IF;

  -- 3. Every request gets its key's first request's fate.
  RETURN QUERY
  WITH req AS (
    SELECT (r.n - 1)::integer AS ord, r.v ->> 'user' AS u, r.v ->> 'key' AS k
      FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(v, n)
  ), firsts AS (
    SELECT DISTINCT ON (q.u, q.k) q.ord, q.u, q.k FROM req q ORDER BY q.u, q.k, q.ord
  ), outcomes AS (
    SELECT q.ord, f.ord AS first_ord, j.outcome, a.response, rec.item_id AS rec_item,
           rec.response AS rec_response
      FROM req q
      JOIN firsts f ON f.u = q.u AND f.k = q.k
      LEFT JOIN unnest(j_ord, j_outcome) AS j(ord, outcome) ON j.ord = f.ord
      LEFT JOIN unnest(a_ord, a_response) AS a(ord, response) ON a.ord = f.ord
      LEFT JOIN LATERAL (  -- a key recorded before this batch (records are never deleted)
        SELECT r.item_id, r.response FROM idempotency_records r
         WHERE j.ord IS NULL AND r.user_id = q.u AND r.key = q.k LIMIT 1) rec ON true
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
