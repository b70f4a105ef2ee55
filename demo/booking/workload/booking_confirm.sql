-- booking_orders: one of the latest bookings is confirmed now.
\set k random(0, 40)
UPDATE bookings SET status = 'confirmed', confirmed_at = now(), updated_at = now()
WHERE id = (SELECT max(id) - :k FROM bookings) AND status IN ('pending', 'paid');
