-- The booking-funnel answers from walstar_booking's metric functions, one
-- line per answer in the format and order of answers.sql ('question | keys
-- | values', '-' for a NULL value): what the demo and the tests compare with
-- answers.sql over the sources.
SELECT line FROM (
SELECT concat_ws(' | ', 'funnel', period, platform, product_sessions, cart_sessions, payment_sessions, confirmation_sessions,
	coalesce(cart_conversion::text, '-'), coalesce(payment_conversion::text, '-'), coalesce(confirmation_conversion::text, '-'),
	coalesce(cart_dropoff::text, '-'), coalesce(payment_dropoff::text, '-'), coalesce(confirmation_dropoff::text, '-')) AS line
FROM booking.session_by_day_platform()
UNION ALL
SELECT concat_ws(' | ', 'funnel_by_country', period, platform, user_country, product_sessions, cart_sessions, payment_sessions,
	confirmation_sessions,
	coalesce(cart_conversion::text, '-'), coalesce(payment_conversion::text, '-'), coalesce(confirmation_conversion::text, '-'),
	coalesce(cart_dropoff::text, '-'), coalesce(payment_dropoff::text, '-'), coalesce(confirmation_dropoff::text, '-'))
FROM booking.session_by_day_platform_country()
UNION ALL
SELECT concat_ws(' | ', 'bookings', period, platform, currency, bookings, revenue) FROM booking.booking_by_day_platform_currency()
UNION ALL
SELECT concat_ws(' | ', 'booking_time', period, platform, booking_times, coalesce(avg_booking_time::text, '-'),
	coalesce(median_booking_time::text, '-'), coalesce(p90_booking_time::text, '-'), negative_booking_times)
FROM booking.booking_by_month_platform() WHERE booking_times + negative_booking_times > 0
UNION ALL
SELECT concat_ws(' | ', 'repeat_bookings', period, repeat_bookings, booking_users, returning_users, returning_user_share)
FROM booking.booking_by_month()) AS a
ORDER BY line;
