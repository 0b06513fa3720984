-- The item row counts its sold units (issue 16), so every item change in the log carries the
-- whole picture: by invariant 2 (available + active + consumed leases = total_stock) the leases
-- held are total_stock - available - confirmed. Only a payment changes it: a consumed lease
-- never changes again.

ALTER TABLE items ADD COLUMN confirmed integer NOT NULL DEFAULT 0 CHECK (confirmed >= 0);
UPDATE items i SET confirmed = (SELECT count(*) FROM reservations r
                                 WHERE r.item_id = i.id AND r.status = 'consumed')
 WHERE EXISTS (SELECT 1 FROM reservations r WHERE r.item_id = i.id AND r.status = 'consumed');
ALTER TABLE items ADD CHECK (available + confirmed <= total_stock);

-- fs_item_json, as in 0001, with the admin's counts read from the row instead of counted.
CREATE OR REPLACE FUNCTION fs_item_json(i items, admin boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object(
    'id', i.id, 'name', i.name, 'total_stock', i.total_stock, 'available', i.available,
    'waiting', i.waiting, 'payment_window_s', i.payment_window_s,
    'per_user_limit', i.per_user_limit, 'waitlist_limit', i.waitlist_limit,
    'opens_at', fs_ts(i.opens_at), 'closes_at', fs_ts(i.closes_at), 'paused', i.paused)
  || CASE WHEN admin THEN jsonb_build_object(
    'reserved', i.total_stock - i.available - i.confirmed, 'confirmed', i.confirmed)
    ELSE '{}'::jsonb END
$$;

-- fs_record_payment, as in 0001, counting each sale on the item row.
CREATE OR REPLACE FUNCTION fs_record_payment(p_event text, p_order uuid, p_outcome text)
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
        UPDATE items SET confirmed = confirmed + 1, updated_at = now() WHERE id = v_item;
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
