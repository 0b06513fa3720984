-- fs_order_json's query is planned once per connection, not once per call (issue 14). As a SQL
-- function with subqueries it cannot be inlined into its caller, and PostgreSQL keeps a SQL
-- function's plan only for the statement that calls it: every fs_place_batch call (whatever its
-- batch), every cancel (fs_end_order) and every read of one order planned it afresh, about
-- 130 µs each (pg_stat_statements with track_planning: 17,146 plans in 17,146 placements of one
-- request). In PL/pgSQL the same expression is a prepared statement, its plan cached by the
-- connection. The JSON is that of 0001, unchanged: the API's one representation of an order.
CREATE OR REPLACE FUNCTION fs_order_json(o orders, p_position bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN jsonb_strip_nulls(jsonb_build_object(
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
    'updated_at', fs_ts(o.updated_at)));
END $$;
