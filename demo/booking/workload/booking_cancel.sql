-- booking_orders: a recent booking is cancelled, or an older confirmed one
-- refunded; either way it has no confirmed_at any more.
\set k random(0, 400)
UPDATE bookings SET status = CASE WHEN status = 'confirmed' THEN 'refunded' ELSE 'cancelled' END::booking_status,
	   confirmed_at = NULL, updated_at = now()
WHERE id = (SELECT max(id) - :k FROM bookings) AND status IN ('pending', 'paid', 'confirmed');
