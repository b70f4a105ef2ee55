/* walstar_booking--0.2.sql: the booking-funnel model, version 0.2 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walstar_booking CASCADE" to load this file. \quit

/*
 * The booking funnel (shared/scenario/README.md, "The booking-funnel
 * scenario") as one declaration on walstar's model engine
 * (extension/README.md, "Declaring a model"): attach() hands it to
 * walstar.create_model(), which generates schema "booking" (facts, SCD2
 * versions, rollups, metric functions, verify(), rebuild(), freshness())
 * and the triggers that keep it in the apply transaction; detach() is
 * walstar.drop_model().  README.md maps each question onto it.
 *
 * Expressions run in the generated functions, whose search_path is
 * pg_catalog, pg_temp; they name functions schema-qualified all the same.
 */

/*
 * The declaration for landing tables in landing_schema: users (the
 * booking_users service), page_views (booking_journey), bookings
 * (booking_orders).  Choices the scenario leaves open, as in
 * demo/booking/answers.sql: a session's first view is its earliest
 * viewed_at, ties by the lower page view id, and gives the session its
 * day, platform and user; a confirmed booking has status 'confirmed' and
 * confirmed_at set.
 */
CREATE FUNCTION declaration(landing_schema name) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	d jsonb := $json${
"name": "booking",
"dimensions": {
  "user": {"table": "users", "scd": 2, "effective": "updated_at",
           "attributes": {"country": "country_code"}, "unknown": {"country": "??"}},
  "session": {"fact": "session", "attributes": {"first_view": "first_view"}}},
"facts": {
  "session": {"table": "page_views", "group_by": "session_id", "time": "pg_catalog.min(viewed_at)",
    "columns": {
      "first_view": "pg_catalog.min(viewed_at)",
      "platform": "(pg_catalog.array_agg(platform::text ORDER BY viewed_at, id))[1]",
      "at_product": "pg_catalog.bool_or(page::text = 'product')",
      "at_cart": "pg_catalog.bool_or(page::text = 'cart')",
      "at_payment": "pg_catalog.bool_or(page::text = 'payment')",
      "at_confirmation": "pg_catalog.bool_or(page::text = 'confirmation')"},
    "references": {"user": {"key": "(pg_catalog.array_agg(user_id ORDER BY viewed_at, id))[1]",
                            "as_of": "pg_catalog.min(viewed_at)"}},
    "measures": {
      "sessions": {"kind": "count",
        "comment": "sessions (page_views grouped by session_id) by the UTC day of their first view and its platform; country: the user's country_code in effect at the first view (?? when anonymous or not arrived)"},
      "product_sessions": {"kind": "count", "filter": "at_product",
        "comment": "sessions that showed the product page at least once, in any order"},
      "cart_sessions": {"kind": "count", "filter": "at_cart",
        "comment": "sessions that showed the cart page at least once, in any order"},
      "payment_sessions": {"kind": "count", "filter": "at_payment",
        "comment": "sessions that showed the payment page at least once, in any order"},
      "confirmation_sessions": {"kind": "count", "filter": "at_confirmation",
        "comment": "sessions that showed the confirmation page at least once, in any order"},
      "cart_conversion": {"kind": "ratio", "numerator": "cart_sessions", "denominator": "product_sessions",
        "comment": "cart_sessions / product_sessions, exact numeric"},
      "payment_conversion": {"kind": "ratio", "numerator": "payment_sessions", "denominator": "cart_sessions",
        "comment": "payment_sessions / cart_sessions, exact numeric"},
      "confirmation_conversion": {"kind": "ratio", "numerator": "confirmation_sessions", "denominator": "payment_sessions",
        "comment": "confirmation_sessions / payment_sessions, exact numeric"},
      "cart_dropoff": {"kind": "formula", "of": "1 - cart_conversion",
        "comment": "1 - cart_conversion (NULL when no session showed the product page)"},
      "payment_dropoff": {"kind": "formula", "of": "1 - payment_conversion",
        "comment": "1 - payment_conversion (NULL when no session showed the cart)"},
      "confirmation_dropoff": {"kind": "formula", "of": "1 - confirmation_conversion",
        "comment": "1 - confirmation_conversion (NULL when no session showed the payment page)"}},
    "rollups": {"day_platform": {"grain": "day", "by": ["platform"]},
                "day_platform_country": {"grain": "day", "by": ["platform", "user.country"]}}},
  "booking": {"table": "bookings", "time": "confirmed_at",
    "filter": "status::text = 'confirmed' AND confirmed_at IS NOT NULL", "recompute_by": "user_id", "recompute_since": "confirmed_at",
    "columns": {
      "platform": "platform::text", "currency": "currency", "amount": "amount", "user_id": "user_id",
      "confirmed_at": "confirmed_at",
      "is_repeat": "set below: an earlier confirmed booking of the user, by (confirmed_at, id)",
      "booked_before_month": "set below: a confirmed booking of the user before this one's UTC month"},
    "references": {"session": {"key": "session_id"}},
    "measures": {
      "bookings": {"kind": "count",
        "comment": "confirmed bookings (status confirmed, confirmed_at set) by the UTC day of confirmed_at, bookings.platform and currency"},
      "revenue": {"kind": "sum", "of": "amount", "required": ["currency"],
        "comment": "sum of amount of confirmed bookings in one currency (p_currency: amounts in different currencies do not add up)"},
      "booking_times": {"kind": "count", "of": "confirmed_at - session_first_view", "filter": "confirmed_at - session_first_view >= interval '0'",
        "comment": "confirmed bookings whose session has page views and confirmed_at - the session's first viewed_at >= 0"},
      "avg_booking_time": {"kind": "avg", "of": "confirmed_at - session_first_view", "filter": "confirmed_at - session_first_view >= interval '0'",
        "comment": "average of confirmed_at - the session's first viewed_at, over the booking_times bookings (negative ones excluded)"},
      "median_booking_time": {"kind": "percentile", "fraction": 0.5, "of": "confirmed_at - session_first_view",
        "filter": "confirmed_at - session_first_view >= interval '0'",
        "comment": "percentile_cont(0.5) of confirmed_at - the session's first viewed_at, over the booking_times bookings"},
      "p90_booking_time": {"kind": "percentile", "fraction": 0.9, "of": "confirmed_at - session_first_view",
        "filter": "confirmed_at - session_first_view >= interval '0'",
        "comment": "percentile_cont(0.9) of confirmed_at - the session's first viewed_at, over the booking_times bookings"},
      "negative_booking_times": {"kind": "count", "filter": "confirmed_at - session_first_view < interval '0'",
        "comment": "confirmed bookings confirmed before their session's first view (clock skew), left out of the booking times"},
      "repeat_bookings": {"kind": "count", "filter": "is_repeat",
        "comment": "confirmed bookings whose user had an earlier confirmed booking (by confirmed_at, ties by the lower id)"},
      "booking_users": {"kind": "count_distinct", "of": "user_id",
        "comment": "users with at least one confirmed booking"},
      "returning_users": {"kind": "count_distinct", "of": "user_id", "filter": "booked_before_month",
        "comment": "users with a confirmed booking whose user had a confirmed booking before its UTC month; per month: users of the month who had booked before"},
      "returning_user_share": {"kind": "ratio", "numerator": "returning_users", "denominator": "booking_users",
        "comment": "returning_users / booking_users: per month, the share of the month's booking users who had booked before"}},
    "rollups": {"day_platform_currency": {"grain": "day", "by": ["platform", "currency"]},
                "month_platform": {"grain": "month", "by": ["platform"]},
                "month": {"grain": "month"}}}}
}$json$;
	bookings text := pg_catalog.format('%I.bookings', landing_schema);
BEGIN
	-- the two columns that look at the user's other bookings (recompute_by)
	d := pg_catalog.jsonb_set(d, '{facts,booking,columns,is_repeat}', pg_catalog.to_jsonb(pg_catalog.format(
		'EXISTS (SELECT FROM %s AS b WHERE b.user_id = s.user_id AND b.status::text = ''confirmed'''
		' AND (b.confirmed_at, b.id) < (s.confirmed_at, s.id))', bookings)));
	d := pg_catalog.jsonb_set(d, '{facts,booking,columns,booked_before_month}', pg_catalog.to_jsonb(pg_catalog.format(
		'EXISTS (SELECT FROM %s AS b WHERE b.user_id = s.user_id AND b.status::text = ''confirmed'''
		' AND b.confirmed_at < pg_catalog.date_trunc(''month'', s.confirmed_at, ''UTC''))', bookings)));
	RETURN d || pg_catalog.jsonb_build_object('landing_schema', landing_schema);
END
$$;
COMMENT ON FUNCTION declaration(name) IS
	'the booking model''s declaration for walstar.create_model() on the landing tables users, page_views and bookings of landing_schema';

/*
 * attach(landing_schema): the model "booking" on the landing tables of
 * landing_schema, which it creates (as the caller, with the types the
 * apply worker gives the source columns: enums as text) where they do not
 * exist yet, so that it can be attached before the subscriptions start and
 * see every version of every user.  As walstar.create_model(): the caller
 * is a walstar_admin member who may act as the owner of the landing tables.
 * Not SECURITY DEFINER.
 */
CREATE FUNCTION attach(landing_schema name) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t text;
	cols text;
BEGIN
	IF landing_schema IS NULL OR landing_schema IN ('booking', 'walstar', 'walstar_booking', 'walstar_versions')
		OR landing_schema LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'walstar_booking: landing schema % is reserved', coalesce(pg_catalog.quote_ident(landing_schema), 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF pg_catalog.to_regnamespace(pg_catalog.quote_ident(landing_schema)) IS NULL THEN
		EXECUTE pg_catalog.format('CREATE SCHEMA %I', landing_schema);
	END IF;
	FOR t, cols IN VALUES
		('users', 'id bigint PRIMARY KEY, email text, full_name text, country_code character(2),'
			' created_at timestamp with time zone, updated_at timestamp with time zone'),
		('page_views', 'id bigint PRIMARY KEY, session_id uuid, user_id bigint, page text, platform text,'
			' product_id bigint, viewed_at timestamp with time zone, ip_address inet'),
		('bookings', 'id bigint PRIMARY KEY, session_id uuid, user_id bigint, platform text, amount numeric(12,2),'
			' currency character(3), status text, created_at timestamp with time zone,'
			' confirmed_at timestamp with time zone, updated_at timestamp with time zone')
	LOOP
		IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', landing_schema, t)) IS NULL THEN
			EXECUTE pg_catalog.format('CREATE TABLE %I.%I (%s)', landing_schema, t, cols);
		END IF;
	END LOOP;
	PERFORM walstar.create_model(@extschema@.declaration(landing_schema));
	RETURN 'booking';
END
$$;
COMMENT ON FUNCTION attach(name) IS
	'creates the booking model (schema booking) on landing_schema.users, page_views and bookings (created if missing) and builds it from their rows; for walstar_admin members who may act as the landing tables'' owner';

CREATE FUNCTION detach() RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	PERFORM walstar.drop_model('booking');
END
$$;
COMMENT ON FUNCTION detach() IS
	'removes the booking model: schema booking, its triggers on the landing tables and its registrations (walstar.drop_model); the landing tables stay';

-- Nothing is public: the admin attaches and detaches; the reader may read
-- the declaration (the metric functions' grants come with the model).
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT USAGE ON SCHEMA @extschema@ TO walstar_admin, walstar_reader;
GRANT EXECUTE ON FUNCTION declaration(name) TO walstar_admin, walstar_reader;
GRANT EXECUTE ON FUNCTION attach(name), detach() TO walstar_admin;
