# The booking model's part of demo/run.sh (sourced by it): the three
# booking-funnel services (demo/booking/), their history (DEMO_SESSIONS
# sessions), walstar_booking attached once the history has landed, the
# scenario's workloads, its five questions.
SESSIONS=${DEMO_SESSIONS:-20000}
USERS=$(( SESSIONS / 15 > 150 ? SESSIONS / 15 : 150 ))
RATE=${DEMO_RATE:-30}			# pgbench transactions/s on booking_journey (users 1/5, orders 1/2 of it)
SERVICES="booking_users booking_journey booking_orders"
SOURCES=$ROOT/demo/booking/booking_sources.sql
LANDING=booking_land
EXTENSION=walstar_booking
HISTORY="$SESSIONS sessions of $USERS users"
HISTORY_ROWS=$(( SESSIONS * 3 ))
SIZES="USERS=$USERS SESSIONS=$SESSIONS"
BENCH_VARS="-D users=$USERS -D sessions=$SESSIONS"
ATTACH_LINE="CREATE EXTENSION walstar_booking CASCADE; walstar.create_subscription() x3; once the history has landed, SELECT walstar_booking.attach('booking_land')"

tables() {
	case $1 in
	booking_users) echo users ;;
	booking_journey) echo page_views ;;
	booking_orders) echo bookings ;;
	esac
}

# The history, and the source's record of every users version
# (user_versions.sql, which answers.sql reads).
model_history() {
	src booking_users -f "$ROOT/demo/booking/user_versions.sql"
	B=$ROOT/demo/booking
	src booking_users -v users="$USERS" -f "$B/history_users.sql" >/dev/null
	src booking_journey -v users="$USERS" -v sessions="$SESSIONS" -f "$B/history_sessions.sql" -f "$B/history_journey.sql" >/dev/null
	src booking_orders -v users="$USERS" -v sessions="$SESSIONS" -f "$B/history_sessions.sql" -f "$B/history_orders.sql" >/dev/null
}

model_prepare() {
	echo "CREATE EXTENSION walstar_booking CASCADE;"
	echo "CREATE SCHEMA booking_land;"
}
model_attach() { echo "SELECT walstar_booking.attach('booking_land');"; }

model_workload() {
	say "workload: pgbench on the three services for $SECONDS_RUN s (about $(( RATE * 17 / 10 )) transactions/s in all)"
	W=$ROOT/demo/booking/workload
	bench booking_users $(( RATE / 5 )) -f "$W/user_new.sql@2" -f "$W/user_move.sql@4" -f "$W/user_delete.sql@1"
	bench booking_journey "$RATE" -f "$W/session_new.sql@10" -f "$W/view_late.sql@3" -f "$W/session_delete.sql@1" \
		-f "$W/view_delete.sql@1"
	bench booking_orders $(( RATE / 2 )) -f "$W/booking_new.sql@6" -f "$W/booking_confirm.sql@4" -f "$W/booking_cancel.sql@1"
}

model_answers() {
	say "the five questions (walstar_booking metric functions, answered from rollups)"
	ana -P footer=off <<'EOF'
\timing on
\echo '1. The funnel per day and platform (the last three days): sessions per stage, conversion, drop-off'
SELECT period AS day, platform, product_sessions AS product, cart_sessions AS cart, payment_sessions AS payment,
	   confirmation_sessions AS confirmed, round(cart_conversion, 3) AS cart_conv, round(payment_conversion, 3) AS payment_conv,
	   round(confirmation_conversion, 3) AS confirm_conv, round(confirmation_dropoff, 3) AS confirm_dropoff
FROM booking.session_by_day_platform(current_date - 2, current_date) ORDER BY 1, 2;
\echo '2. Bookings and revenue per day and platform, per currency (yesterday and today):'
SELECT period AS day, platform, currency, bookings, revenue
FROM booking.booking_by_day_platform_currency(current_date - 1, current_date) ORDER BY 1, 2, 3;
\echo '3. Time from the first page view to the confirmed booking, per month and platform (the last three months):'
SELECT period AS month, platform, booking_times AS bookings, justify_hours(date_trunc('minute', avg_booking_time)) AS avg,
	   justify_hours(date_trunc('minute', median_booking_time)) AS median,
	   justify_hours(date_trunc('minute', p90_booking_time)) AS p90, negative_booking_times AS clock_skewed
FROM booking.booking_by_month_platform(date_trunc('month', current_date - 62)::date, current_date) ORDER BY 1, 2;
\echo '4. Repeat bookings per month, and the share of the month''s booking users who had booked before (the last six months):'
SELECT period AS month, repeat_bookings, booking_users, returning_users, round(returning_user_share, 3) AS returning_share
FROM booking.booking_by_month(date_trunc('month', current_date - 155)::date, current_date) ORDER BY 1;
\echo '5. The funnel by the user''s country (the last seven days, all platforms; ?? = anonymous or not registered yet):'
SELECT c AS country, booking.product_sessions(current_date - 6, current_date, NULL, c) AS product,
	   booking.cart_sessions(current_date - 6, current_date, NULL, c) AS cart,
	   booking.payment_sessions(current_date - 6, current_date, NULL, c) AS payment,
	   booking.confirmation_sessions(current_date - 6, current_date, NULL, c) AS confirmed,
	   round(booking.cart_conversion(current_date - 6, current_date, NULL, c), 3) AS cart_conv,
	   round(booking.confirmation_dropoff(current_date - 6, current_date, NULL, c), 3) AS confirm_dropoff
FROM (SELECT DISTINCT user_country FROM booking.session_by_day_platform_country(current_date - 6, current_date)) AS d(c)
ORDER BY 2 DESC, 1;
\timing off
\echo 'How far behind the sources is each metric?'
SELECT * FROM booking.freshness();
EOF
}

model_checks() {
	check "verify(): the model agrees with a full recomputation over the landing tables" "" \
		"$(ana -At -c "SELECT concat_ws(' ', object, problem, detail) FROM booking.verify() LIMIT 20")"
	copy_tables expected booking_users.user_versions booking_users.users booking_journey.page_views booking_orders.bookings
	want=$(src expected -At -f "$ROOT/demo/booking/answers.sql")
	got=$(ana -At -f "$ROOT/demo/booking/model_answers.sql")
	check "every answer of the model ($(answer_counts "$got")) equals demo/booking/answers.sql over the sources" "$want" "$got"
}

model_query_more() {
	cat <<'EOF'
  SELECT booking.cart_conversion('2024-03-01', '2024-03-31', p_platform => 'ios');
  SELECT booking.revenue(current_date, current_date, 'web', 'EUR');
  SELECT * FROM booking.session_by_day_platform_country(current_date, current_date);
  SELECT * FROM booking.booking_by_month_platform();
  \df+ booking.*                  -- every metric's exact semantics is its COMMENT
  SELECT * FROM walstar.subscription_status;                             -- pipeline progress
  The star schema: booking.f_session, f_booking, d_user (SCD2): \dt booking.*; extension/walstar_booking/README.md.
EOF
}
