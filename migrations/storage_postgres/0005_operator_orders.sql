-- What an operator needs to follow one order (issue 16): an order of any user with its history,
-- and a cancel by the operator, told apart from the user's own.

-- fs_end_order, as in 0001, with one more kind: 'force_cancel' ends a WAITING or RESERVED
-- order of any user like 'cancel' does, with reason 'cancelled_by_operator'.
CREATE OR REPLACE FUNCTION fs_end_order(p_order uuid, p_user text, p_kind text)
RETURNS TABLE (outcome text, message text, body text) LANGUAGE plpgsql AS $$
DECLARE
  o orders;
  v_item text;
  ended integer;
  cancelling boolean := p_kind IN ('cancel', 'force_cancel');
  new_status text := CASE WHEN p_kind IN ('cancel', 'force_cancel') THEN 'cancelled' ELSE 'expired' END;
  why text := CASE p_kind WHEN 'cancel' THEN 'cancelled_by_user'
                          WHEN 'force_cancel' THEN 'cancelled_by_operator'
                          ELSE 'expired_by_operator' END;
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

  UPDATE reservations SET status = CASE WHEN cancelling THEN 'released' ELSE 'expired' END,
                          ended_at = now()
   WHERE order_id = p_order AND status = 'active';
  GET DIAGNOSTICS ended = ROW_COUNT;
  IF ended = 1 THEN
    UPDATE orders SET status = new_status, reason = why, updated_at = now()
     WHERE id = p_order AND status = 'reserved' RETURNING * INTO o;
    UPDATE items SET available = available + 1, updated_at = now() WHERE id = v_item;
  ELSIF cancelling THEN
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

-- An order as fs_order_json shows it, plus its user and its history, oldest first, from the
-- rows themselves (they outlive any event stream's retention): placed (into the line, or
-- reserved in the same transaction), promoted (a lease granted later), each payment callback,
-- and how it ended.
CREATE FUNCTION fs_order_history_json(o orders) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT fs_order_json(o) || jsonb_build_object('user_id', o.user_id, 'history', (
    SELECT coalesce(jsonb_agg(h.entry ORDER BY h.at, h.step), '[]'::jsonb) FROM (
      SELECT o.created_at AS at, 0 AS step, jsonb_build_object(
               'at', fs_ts(o.created_at), 'what', 'placed',
               'status', CASE WHEN r.granted_at = o.created_at THEN 'reserved' ELSE 'waiting' END)
             AS entry
        FROM (SELECT 1) one LEFT JOIN reservations r ON r.order_id = o.id
      UNION ALL
      SELECT r.granted_at, 1, jsonb_build_object(
               'at', fs_ts(r.granted_at), 'what', 'promoted',
               'expires_at', fs_ts(r.expires_at))
        FROM reservations r WHERE r.order_id = o.id AND r.granted_at > o.created_at
      UNION ALL
      SELECT p.received_at, 2, jsonb_strip_nulls(jsonb_build_object(
               'at', fs_ts(p.received_at), 'what', 'payment_' || p.outcome,
               'event_id', p.event_id, 'result', p.result))
        FROM payment_events p WHERE p.order_id = o.id
      UNION ALL
      SELECT o.updated_at, 3, jsonb_strip_nulls(jsonb_build_object(
               'at', fs_ts(o.updated_at), 'what', o.status, 'reason', o.reason))
       WHERE o.status IN ('confirmed', 'cancelled', 'expired')
    ) h))
$$;

CREATE INDEX payment_events_by_order ON payment_events (order_id);
