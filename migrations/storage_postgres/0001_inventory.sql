-- The inventory semaphore and the order lifecycle (SPEC §2).
--
-- Rules every function below follows:
--  * a state change is one transaction that first locks the item row (FOR UPDATE), so all
--    writers of one item are serialized and never deadlock, then makes conditional updates on
--    the expected current status; a transition that no longer applies changes nothing and says so;
--  * a lease past expires_at is reclaimed by whoever touches the item next (fs_reclaim), and a
--    returned unit goes to the head of the waiting line before anything else (fs_promote);
--  * the JSON a caller sees is built here (fs_order_json, fs_item_json): one representation.

CREATE TABLE items (
  id                text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
  name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  total_stock       integer NOT NULL CHECK (total_stock >= 0),
  available         integer NOT NULL CHECK (available >= 0),
  waiting           integer NOT NULL DEFAULT 0 CHECK (waiting >= 0),
  payment_window_s  integer NOT NULL DEFAULT 600 CHECK (payment_window_s BETWEEN 1 AND 86400),
  per_user_limit    integer NOT NULL DEFAULT 1 CHECK (per_user_limit >= 1),
  waitlist_limit    integer CHECK (waitlist_limit >= 0),  -- NULL: unlimited
  opens_at          timestamptz NOT NULL DEFAULT now(),
  closes_at         timestamptz,
  paused            boolean NOT NULL DEFAULT false,
  next_waitlist_seq bigint NOT NULL DEFAULT 1,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (available <= total_stock)
);

CREATE TABLE orders (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id      text NOT NULL,
  item_id      text NOT NULL REFERENCES items (id),
  status       text NOT NULL CHECK (status IN ('waiting', 'reserved', 'confirmed', 'cancelled', 'expired')),
  waitlist_seq bigint NOT NULL,  -- arrival order within the item
  reason       text,             -- why a terminal status was reached
  payment_link text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (item_id, waitlist_seq)
);
CREATE INDEX orders_waiting_line ON orders (item_id, waitlist_seq) WHERE status = 'waiting';
CREATE INDEX orders_by_user ON orders (user_id, item_id);

-- The leases. An order gets at most one, ever: a unit is never granted twice.
CREATE TABLE reservations (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id   uuid NOT NULL UNIQUE REFERENCES orders (id),
  item_id    text NOT NULL REFERENCES items (id),
  status     text NOT NULL CHECK (status IN ('active', 'consumed', 'released', 'expired')),
  granted_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  ended_at   timestamptz
);
CREATE INDEX reservations_active_by_item ON reservations (item_id, expires_at) WHERE status = 'active';
CREATE INDEX reservations_active_by_expiry ON reservations (expires_at) WHERE status = 'active';

-- What a (user, Idempotency-Key) produced, answered verbatim to every replay.
CREATE TABLE idempotency_records (
  user_id    text NOT NULL,
  key        text NOT NULL,
  item_id    text NOT NULL,
  order_id   uuid REFERENCES orders (id),
  response   jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, key)
);

CREATE TABLE payment_events (
  event_id    text PRIMARY KEY,
  order_id    uuid NOT NULL,
  outcome     text NOT NULL CHECK (outcome IN ('succeeded', 'failed')),
  result      text,
  received_at timestamptz NOT NULL DEFAULT now()
);

-- Row changes of these tables become domain events (CDC): old rows are logged whole.
ALTER TABLE items REPLICA IDENTITY FULL;
ALTER TABLE orders REPLICA IDENTITY FULL;
ALTER TABLE reservations REPLICA IDENTITY FULL;

CREATE FUNCTION fs_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- An order as the API shows it. `p_position` may be passed when known (placement); otherwise a
-- waiting order's place in line is counted.
CREATE FUNCTION fs_order_json(o orders, p_position bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'id', o.id,
    'item_id', o.item_id,
    'status', o.status,
    'waitlist_position', CASE WHEN o.status = 'waiting' THEN coalesce(p_position,
        (SELECT count(*) FROM orders w WHERE w.item_id = o.item_id AND w.status = 'waiting'
                                          AND w.waitlist_seq <= o.waitlist_seq)) END,
    'reservation', (SELECT jsonb_build_object('id', r.id, 'expires_at', fs_ts(r.expires_at))
                      FROM reservations r WHERE r.order_id = o.id AND r.status = 'active'),
    'payment_link', o.payment_link,
    'reason', o.reason,
    'created_at', fs_ts(o.created_at),
    'updated_at', fs_ts(o.updated_at)))
$$;

CREATE FUNCTION fs_item_json(i items, admin boolean) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', i.id, 'name', i.name, 'total_stock', i.total_stock, 'available', i.available,
    'waiting', i.waiting, 'payment_window_s', i.payment_window_s,
    'per_user_limit', i.per_user_limit, 'waitlist_limit', i.waitlist_limit,
    'opens_at', fs_ts(i.opens_at), 'closes_at', fs_ts(i.closes_at), 'paused', i.paused)
  || CASE WHEN admin THEN jsonb_build_object(
    'reserved', (SELECT count(*) FROM reservations r WHERE r.item_id = i.id AND r.status = 'active'),
    'confirmed', (SELECT count(*) FROM reservations r WHERE r.item_id = i.id AND r.status = 'consumed'))
    ELSE '{}'::jsonb END
$$;

-- Lazy expiry: leases of the item past expires_at end, their units come back. Caller holds
-- the item lock. Returns the number of units reclaimed.
CREATE FUNCTION fs_reclaim(p_item text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  n integer;
BEGIN
  WITH ended AS (
    UPDATE reservations SET status = 'expired', ended_at = now()
     WHERE item_id = p_item AND status = 'active' AND expires_at <= now()
    RETURNING order_id
  ), closed AS (
    UPDATE orders o SET status = 'expired', reason = 'payment_window_over', updated_at = now()
      FROM ended WHERE o.id = ended.order_id AND o.status = 'reserved'
    RETURNING 1
  )
  SELECT count(*) INTO n FROM ended;
  IF n > 0 THEN
    UPDATE items SET available = available + n, updated_at = now() WHERE id = p_item;
  END IF;
  RETURN n;
END $$;

-- Gives free units to the head of the waiting line, in waitlist_seq order; once the sale has
-- closed, ends the line instead (EXPIRED, reason sale_closed). Caller holds the item lock.
-- Returns the number promoted.
CREATE FUNCTION fs_promote(p_item text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  it items;
  n integer;
BEGIN
  SELECT * INTO it FROM items WHERE id = p_item;
  IF it.waiting = 0 THEN
    RETURN 0;
  END IF;
  IF it.closes_at IS NOT NULL AND it.closes_at <= now() THEN
    -- The sale is over: the line ends instead of being served.
    UPDATE orders SET status = 'expired', reason = 'sale_closed', updated_at = now()
     WHERE item_id = p_item AND status = 'waiting';
    UPDATE items SET waiting = 0, updated_at = now() WHERE id = p_item;
    RETURN 0;
  END IF;
  IF it.available = 0 THEN
    RETURN 0;
  END IF;
  WITH heads AS (
    SELECT id FROM orders WHERE item_id = p_item AND status = 'waiting'
     ORDER BY waitlist_seq LIMIT it.available
  ), promoted AS (
    UPDATE orders o SET status = 'reserved', updated_at = now()
      FROM heads WHERE o.id = heads.id AND o.status = 'waiting'
    RETURNING o.id
  ), leased AS (
    INSERT INTO reservations (order_id, item_id, status, expires_at)
    SELECT id, p_item, 'active', now() + make_interval(secs => it.payment_window_s) FROM promoted
    RETURNING 1
  )
  SELECT count(*) INTO n FROM leased;
  UPDATE items SET available = available - n, waiting = waiting - n, updated_at = now()
   WHERE id = p_item;
  RETURN n;
END $$;

-- Places a batch of orders for one item, in arrival order, in one transaction. p_requests is
-- [{"user": ..., "key": ...}, ...]. Each request gets its own row: outcome 'reserved',
-- 'waiting' or 'replayed' with the order JSON in body, or an error code with a message. One
-- bad request never fails the others.
CREATE FUNCTION fs_place_batch(p_item text, p_requests jsonb)
RETURNS TABLE (ord integer, outcome text, message text, body text) LANGUAGE plpgsql AS $$
DECLARE
  it items;
  req record;
  rec idempotency_records;
  claimed integer;
  live integer;
  o orders;
  v_response jsonb;
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

  FOR req IN SELECT (r.n - 1)::integer AS ord, r.v ->> 'user' AS user_id, r.v ->> 'key' AS key
               FROM jsonb_array_elements(p_requests) WITH ORDINALITY AS r(v, n) ORDER BY r.n
  LOOP
    ord := req.ord;
    body := NULL;
    message := NULL;
    -- Claim the key first: a concurrent claim (another item's batch) makes us wait for it.
    INSERT INTO idempotency_records (user_id, key, item_id) VALUES (req.user_id, req.key, p_item)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS claimed = ROW_COUNT;
    IF claimed = 0 THEN
      SELECT * INTO rec FROM idempotency_records WHERE user_id = req.user_id AND key = req.key;
      IF rec.item_id <> p_item THEN
        outcome := 'idempotency_mismatch';
        message := 'this Idempotency-Key was used for item ' || rec.item_id;
      ELSE
        outcome := 'replayed';
        body := rec.response::text;
      END IF;
      RETURN NEXT;
      CONTINUE;
    END IF;

    outcome := NULL;
    IF it.paused THEN
      outcome := 'sale_paused'; message := 'the sale of ' || p_item || ' is paused';
    ELSIF now() < it.opens_at THEN
      outcome := 'sale_not_open'; message := 'the sale opens at ' || fs_ts(it.opens_at);
    ELSIF it.closes_at IS NOT NULL AND now() >= it.closes_at THEN
      outcome := 'sale_closed'; message := 'the sale closed at ' || fs_ts(it.closes_at);
    ELSE
      SELECT count(*) INTO live FROM orders
       WHERE user_id = req.user_id AND item_id = p_item
         AND status IN ('waiting', 'reserved', 'confirmed');
      IF live >= it.per_user_limit THEN
        outcome := 'limit_exceeded';
        message := 'at most ' || it.per_user_limit || ' open order(s) per user for this item';
      ELSIF it.available = 0 AND it.waitlist_limit IS NOT NULL AND it.waiting >= it.waitlist_limit THEN
        outcome := 'sold_out'; message := p_item || ' is sold out and its waiting line is full';
      END IF;
    END IF;
    IF outcome IS NOT NULL THEN
      -- Rejections are not remembered: a retry with the same key is judged afresh.
      DELETE FROM idempotency_records WHERE user_id = req.user_id AND key = req.key;
      RETURN NEXT;
      CONTINUE;
    END IF;

    IF it.available > 0 THEN
      INSERT INTO orders (user_id, item_id, status, waitlist_seq)
      VALUES (req.user_id, p_item, 'reserved', it.next_waitlist_seq) RETURNING * INTO o;
      INSERT INTO reservations (order_id, item_id, status, expires_at)
      VALUES (o.id, p_item, 'active', now() + make_interval(secs => it.payment_window_s));
      it.available := it.available - 1;
      v_response := fs_order_json(o);
    ELSE
      INSERT INTO orders (user_id, item_id, status, waitlist_seq)
      VALUES (req.user_id, p_item, 'waiting', it.next_waitlist_seq) RETURNING * INTO o;
      it.waiting := it.waiting + 1;
      v_response := fs_order_json(o, it.waiting);
    END IF;
    it.next_waitlist_seq := it.next_waitlist_seq + 1;
    UPDATE idempotency_records SET order_id = o.id, response = v_response
     WHERE user_id = req.user_id AND key = req.key;
    outcome := o.status;
    body := v_response::text;
    RETURN NEXT;
  END LOOP;

  UPDATE items SET available = it.available, waiting = it.waiting,
                   next_waitlist_seq = it.next_waitlist_seq, updated_at = now()
   WHERE id = p_item;
END $$;

-- Ends an order's lease or place in line. p_kind: 'cancel' (by its user: WAITING or RESERVED)
-- or 'force_expire' (an operator: a RESERVED order, now). Returns outcome 'ok' with the order,
-- 'not_found', or 'invalid_transition' with the order as it is. (Leases whose window is over
-- are ended by fs_reclaim, from any touch of the item or from the scheduled sweep.)
CREATE FUNCTION fs_end_order(p_order uuid, p_user text, p_kind text)
RETURNS TABLE (outcome text, message text, body text) LANGUAGE plpgsql AS $$
DECLARE
  o orders;
  v_item text;
  ended integer;
  new_status text := CASE WHEN p_kind = 'cancel' THEN 'cancelled' ELSE 'expired' END;
  why text := CASE p_kind WHEN 'cancel' THEN 'cancelled_by_user' ELSE 'expired_by_operator' END;
BEGIN
  SELECT * INTO o FROM orders WHERE id = p_order AND (p_user IS NULL OR user_id = p_user);
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, 'no order ' || p_order, NULL::text;
    RETURN;
  END IF;
  v_item := o.item_id;
  PERFORM 1 FROM items WHERE id = v_item FOR UPDATE;
  -- A lease past expires_at is no longer held: it expires before anything else is judged.
  PERFORM fs_reclaim(v_item);

  UPDATE reservations SET status = CASE WHEN p_kind = 'cancel' THEN 'released' ELSE 'expired' END,
                          ended_at = now()
   WHERE order_id = p_order AND status = 'active';
  GET DIAGNOSTICS ended = ROW_COUNT;
  IF ended = 1 THEN
    UPDATE orders SET status = new_status, reason = why, updated_at = now()
     WHERE id = p_order AND status = 'reserved' RETURNING * INTO o;
    UPDATE items SET available = available + 1, updated_at = now() WHERE id = v_item;
  ELSIF p_kind = 'cancel' THEN
    UPDATE orders SET status = new_status, reason = why, updated_at = now()
     WHERE id = p_order AND status = 'waiting' RETURNING * INTO o;
    GET DIAGNOSTICS ended = ROW_COUNT;
    IF ended = 1 THEN
      UPDATE items SET waiting = waiting - 1, updated_at = now() WHERE id = v_item;
    END IF;
  END IF;
  PERFORM fs_reclaim(v_item);
  PERFORM fs_promote(v_item);
  IF ended = 0 THEN
    SELECT * INTO o FROM orders WHERE id = p_order;
    RETURN QUERY SELECT 'invalid_transition'::text, 'the order is ' || o.status,
      fs_order_json(o)::text;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'ok'::text, NULL::text, fs_order_json(o)::text;
END $$;

-- Restock, pause/resume, and the closing time, in one transaction. Restocked units go to the
-- waiting line first.
CREATE FUNCTION fs_update_item(p_item text, p_add_stock integer, p_paused boolean,
                               p_set_closes_at boolean, p_closes_at timestamptz)
RETURNS TABLE (outcome text, message text, body text) LANGUAGE plpgsql AS $$
DECLARE
  it items;
BEGIN
  UPDATE items SET total_stock = total_stock + coalesce(p_add_stock, 0),
                   available = available + coalesce(p_add_stock, 0),
                   paused = coalesce(p_paused, paused),
                   closes_at = CASE WHEN p_set_closes_at THEN p_closes_at ELSE closes_at END,
                   updated_at = now()
   WHERE id = p_item;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, 'no item ' || p_item, NULL::text;
    RETURN;
  END IF;
  PERFORM fs_reclaim(p_item);
  PERFORM fs_promote(p_item);
  SELECT * INTO it FROM items WHERE id = p_item;
  RETURN QUERY SELECT 'ok'::text, NULL::text, fs_item_json(it, true)::text;
END $$;

-- A payment provider's callback. A repeated event_id has no second effect. A success counts
-- only while the lease is active and not past expires_at on the database clock; otherwise the
-- money must go back ('refund_required'). A failure leaves the order RESERVED.
CREATE FUNCTION fs_record_payment(p_event text, p_order uuid, p_outcome text)
RETURNS TABLE (result text, body text) LANGUAGE plpgsql AS $$
DECLARE
  o orders;
  v_item text;
  verdict text;
  consumed integer;
BEGIN
  INSERT INTO payment_events (event_id, order_id, outcome) VALUES (p_event, p_order, p_outcome)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'duplicate'::text, jsonb_build_object('result', e.result)::text
                   FROM payment_events e WHERE e.event_id = p_event;
    RETURN;
  END IF;
  SELECT * INTO o FROM orders WHERE id = p_order;
  IF NOT FOUND THEN
    verdict := 'unknown_order';
  ELSE
    v_item := o.item_id;
    PERFORM 1 FROM items WHERE id = v_item FOR UPDATE;
    IF p_outcome = 'failed' THEN
      verdict := 'failed';
    ELSE
      UPDATE reservations SET status = 'consumed', ended_at = now()
       WHERE order_id = p_order AND status = 'active' AND expires_at > now();
      GET DIAGNOSTICS consumed = ROW_COUNT;
      IF consumed = 1 THEN
        UPDATE orders SET status = 'confirmed', reason = NULL, updated_at = now()
         WHERE id = p_order AND status = 'reserved' RETURNING * INTO o;
        verdict := 'confirmed';
      ELSE
        verdict := 'refund_required';
      END IF;
    END IF;
    PERFORM fs_reclaim(v_item);
    PERFORM fs_promote(v_item);
  END IF;
  UPDATE payment_events SET result = verdict WHERE event_id = p_event;
  RETURN QUERY SELECT verdict, jsonb_build_object('result', verdict)::text;
END $$;
