# walstar_claims when nobody involved is a superuser (issue "Trust").
#
# The subscription owner "app" (a login role, walstar_admin, owner of the
# landing schema) attaches the model and subscribes; Acme changes made on a
# source database go through walstar_decoder and a real Kafka broker into
# the landing tables, and the model's triggers, running as app, keep the
# star schema: every metric equals its definition computed over the source
# tables.  Meanwhile the analytics database's owner "dbo", no superuser,
# plants public functions and an operator that are better matches than the
# built-ins for what the model's functions call, and makes public the first
# schema of every session; none of them is ever called, by the worker, by
# the triggers in an ordinary session, by the metric functions of a reader,
# or by rebuild() and verify().  The reader "analyst" calls the metric
# functions and cannot write the star schema; the walstar_admin "eve" can
# neither attach the model to app's tables nor redirect app's subscription.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use WalstarTest::Kafka;
use WalstarTest::Pipeline;
use WalstarTest::Shop;

my $root = $ENV{WALSTAR_ROOT} // '.';
my $kafka = WalstarTest::Kafka->start;
my $node = WalstarTest::Pipeline::combined('claims_privileges', "timezone = 'UTC'\n");

# The analytics side's own checks run with a pinned search_path: the
# database default is dbo's.
sub q_ana { return $node->safe_psql('ana', "SET search_path = pg_catalog, pg_temp;\n" . $_[0]); }
# A session as role $role with whatever search_path the database gives it.
sub as_role { my ($role, $sql) = @_; return $node->safe_psql('ana', "SET ROLE $role;\n$sql"); }
sub fails_as
{
	my ($role, $sql, $pattern, $what) = @_;
	my ($ret, $out, $err) = $node->psql('ana', "SET ROLE $role;\n$sql");
	ok($ret != 0 && $err =~ $pattern, $what) or diag("ret $ret, stdout: $out, stderr: $err");
}

$node->safe_psql('postgres', q{
CREATE ROLE dbo LOGIN;
CREATE DATABASE src;
CREATE DATABASE ana OWNER dbo;
});

# Source: the Acme tables in one database, decoded by a walstar_decoder slot
# (walstar there for walstar.decode; it also creates the walstar roles).
my $ddl = slurp_file("$root/demo/acme_sources.sql");
$node->safe_psql('src', "CREATE EXTENSION walstar;\n$ddl\n"
	  . q{SELECT 'init' FROM pg_create_logical_replication_slot('s', 'walstar_decoder');});
$node->safe_psql('postgres', q{
CREATE ROLE app LOGIN IN ROLE walstar_admin;
CREATE ROLE eve LOGIN IN ROLE walstar_admin;
CREATE ROLE analyst LOGIN IN ROLE walstar_reader;
});

# --- dbo's traps, before anything of walstar exists in ana
$node->safe_psql('ana', q{
SET ROLE dbo;
CREATE TABLE public.trap_log (who text, what text);
GRANT INSERT ON public.trap_log TO PUBLIC;
CREATE FUNCTION public.trap(what text) RETURNS void LANGUAGE plpgsql AS $t$
BEGIN
	INSERT INTO public.trap_log VALUES (current_user, what);
	BEGIN
		ALTER ROLE dbo SUPERUSER;
	EXCEPTION WHEN insufficient_privilege THEN
		NULL;
	END;
END $t$;
CREATE FUNCTION public.cardinality(bigint[]) RETURNS integer LANGUAGE plpgsql AS $t$
BEGIN PERFORM public.trap('cardinality(bigint[])'); RETURN pg_catalog.cardinality($1); END $t$;
CREATE FUNCTION public.unnest(date[]) RETURNS SETOF date LANGUAGE plpgsql AS $t$
BEGIN PERFORM public.trap('unnest(date[])'); RETURN QUERY SELECT * FROM pg_catalog.unnest($1); END $t$;
CREATE FUNCTION public.date_trunc(text, date) RETURNS timestamp LANGUAGE plpgsql AS $t$
BEGIN PERFORM public.trap('date_trunc(text, date)'); RETURN pg_catalog.date_trunc($1, $2::timestamp); END $t$;
CREATE FUNCTION public.times(integer, numeric) RETURNS numeric LANGUAGE plpgsql AS $t$
BEGIN PERFORM public.trap('*(integer, numeric)'); RETURN $1::numeric OPERATOR(pg_catalog.*) $2; END $t$;
CREATE OPERATOR public.* (LEFTARG = integer, RIGHTARG = numeric, FUNCTION = public.times);
CREATE FUNCTION public.eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $t$
BEGIN PERFORM public.trap('=(bigint, bigint)'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $t$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.eq);
ALTER DATABASE ana SET search_path = public, pg_catalog;
});
is(as_role('dbo', 'SELECT pg_catalog.cardinality(ARRAY[1::bigint]) OPERATOR(pg_catalog.+) 0; SHOW search_path;'
		. ' SELECT ARRAY[1::bigint] IS NULL OR cardinality(ARRAY[1::bigint]) = 1;'
		. " SELECT count(*) FROM public.trap_log WHERE what LIKE 'cardinality%'; DELETE FROM public.trap_log;"),
	"1\npublic, pg_catalog\nt\n1", 'the traps work: an unpinned session calls them');

# --- the model, attached by the subscription owner to its own schema
$node->safe_psql('ana', q{
CREATE EXTENSION walstar_claims CASCADE;
CREATE SCHEMA acme AUTHORIZATION app;
});
as_role('app', q{SELECT walstar_claims.attach('acme')});
is(q_ana(q{SELECT string_agg(c.relname || ':' || pg_get_userbyid(c.relowner), ',' ORDER BY c.relname)
	FROM pg_class c WHERE c.relnamespace = 'acme'::regnamespace AND c.relkind = 'r'}),
	'claims:app,customers:app,feedback:app', 'the landing tables belong to the subscription owner');
is(q_ana(q{SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid::regprocedure::text) FROM pg_proc p
	WHERE p.prosecdef AND p.pronamespace = 'walstar_claims'::regnamespace}),
	'walstar_claims._attach(name), walstar_claims.detach()',
	'only _attach() and detach() of walstar_claims are SECURITY DEFINER');
is(q_ana(q{SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p
	WHERE p.pronamespace IN ('walstar'::regnamespace, 'walstar_claims'::regnamespace)
	  AND p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'plpgsql')
	  AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c
					  WHERE c IN ('search_path=pg_catalog, pg_temp',
								  'search_path=walstar_claims, pg_catalog, pg_temp'))}),
	'', 'every PL/pgSQL function of walstar and walstar_claims (the SECURITY DEFINER ones among them) pins its search_path to schemas only superusers create in, pg_temp last');
is(q_ana(q{SELECT count(*) FROM pg_proc p
	WHERE p.pronamespace = 'walstar_claims'::regnamespace AND p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'sql')
	  AND p.prosqlbody IS NULL}), '0',
	'every SQL function of walstar_claims has a body bound at creation');

fails_as('eve', q{SELECT walstar_claims.attach('acme')}, qr/must be owner of table acme\.customers/,
	'another walstar_admin cannot attach the model to app\'s tables');
fails_as('eve', q{SELECT walstar_claims.detach()}, qr/must be owner of table acme\.customers/,
	'nor detach it from them');

as_role('app', "SELECT walstar.create_subscription('acme', '" . $kafka->bootstrap . q{',
	topic_pattern => '^walstar\.public\.', landing_schema => 'acme', batch_time => '50ms', enabled => true)});
fails_as('eve', q{SELECT walstar.alter_subscription('acme', brokers => 'eve.example:9092')},
	qr/must be owner of subscription "acme"/, 'nor point app\'s subscription at another broker');

# --- changes through the decoder and Kafka
sub take_changes { map { [ $_->[0], $_->[1] ] } WalstarTest::Shop::slot_changes($node) }
sub landing_caught_up
{
	my ($what) = @_;
	for my $t (qw(customers claims feedback))
	{
		my $want = $node->safe_psql('src', WalstarTest::Shop::sum_sql("public.$t"));
		# (dbo's search_path: nothing in this query is one of its traps)
		ok($node->poll_query_until('ana', WalstarTest::Shop::sum_sql("acme.$t"), $want),
			"$what: acme.$t equals the source")
		  or diag(q_ana(q{SELECT worker_state, last_error FROM walstar.subscription_status})
			  . "\n" . q_ana(q{SELECT error FROM walstar.dead_letters}));
	}
}

# Every metric, as the model answers it in a session of $role (with dbo's
# search_path), and as the scenario defines it over the source tables.
my $countries = q{(VALUES (NULL::text), ('DE'), ('FR'), ('IT'), ('??')) AS k(c)};
sub model_metrics
{
	my ($role) = @_;
	return as_role($role, qq{
SELECT k.c, walstar_claims.total_claims(NULL, NULL, k.c), s.claims, s.min_amount, s.max_amount,
	round(s.avg_amount, 10), round(s.median_amount, 4), walstar_claims.positive_feedback_count(NULL, NULL, k.c)
FROM $countries, walstar_claims.claim_amount_stats(NULL, k.c) s
ORDER BY k.c NULLS FIRST;
SELECT r.country_code, r.resolved_claims, round(extract(epoch FROM r.avg_time))
FROM walstar_claims.anomaly_resolution_time() r ORDER BY 1;
SELECT year, country_code, sentiment, feedback FROM walstar_claims.anomaly_feedback_sentiment() ORDER BY 1, 2, 3;});
}
my $expected_sql = qq{
CREATE TEMP VIEW cx AS
	SELECT cl.*, coalesce(cu.country_code::text, '??') AS country
	FROM claims cl LEFT JOIN customers cu ON cu.id = cl.customer_id;
CREATE TEMP VIEW fx AS
	SELECT f.*, coalesce(f.sentiment::text, CASE WHEN f.rating >= 4 THEN 'positive'
		WHEN f.rating = 3 THEN 'neutral' ELSE 'negative' END) AS effective, x.country AS claim_country,
		x.is_anomaly AS claim_anomaly, extract(year FROM x.created_at)::int AS claim_year
	FROM feedback f LEFT JOIN cx x ON x.id = f.claim_id;
SELECT k.c, (SELECT count(*) FROM cx WHERE k.c IS NULL OR cx.country = k.c), s.*,
	(SELECT count(*) FROM fx WHERE fx.effective = 'positive'
		AND (k.c IS NULL OR coalesce(fx.claim_country, '??') = k.c))
FROM $countries,
	LATERAL (SELECT count(*), min(amount), max(amount), round(avg(amount), 10),
		round((percentile_cont(0.5) WITHIN GROUP (ORDER BY amount))::numeric, 4)
		FROM cx WHERE k.c IS NULL OR cx.country = k.c) s
ORDER BY k.c NULLS FIRST;
SELECT country, count(*), round(avg(extract(epoch FROM resolved_at) - extract(epoch FROM created_at)))
FROM cx WHERE is_anomaly AND resolved_at IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT claim_year, claim_country, effective, count(*) FROM fx WHERE claim_anomaly
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;};

sub metrics_agree
{
	my ($what) = @_;
	my $want = $node->safe_psql('src', $expected_sql);
	like($want, qr/^\|\d+\|\d+\|/, "$what: the expected metrics are not empty");
	is(model_metrics('analyst'), $want, "$what: every metric, as the reader sees it, equals its definition");
	is(model_metrics('app'), $want, "$what: and so does the subscription owner's view");
}

# Claims before their customers (5 of them late), feedback before its claim.
$node->safe_psql('src', q{
INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
SELECT g, 'c' || g, 'c' || g || '@example.com', (ARRAY['DE', 'FR', 'IT'])[g % 3 + 1],
	'2023-01-01', '2023-01-01' FROM generate_series(1, 20) g;
INSERT INTO claims (id, customer_id, amount, status, is_anomaly, flagged_at, created_at, resolved_at, updated_at)
SELECT g, g % 25 + 1, (g * 37 % 1000) + 0.25,
	CASE WHEN g % 4 = 0 THEN 'paid' ELSE 'open' END::claim_status, g % 3 = 0,
	CASE WHEN g % 3 = 0 THEN timestamptz '2024-01-01' + g * interval '1 day' END,
	timestamptz '2024-01-01' + g * interval '1 day',
	CASE WHEN g % 4 = 0 THEN timestamptz '2024-01-01' + g * interval '1 day' + g * interval '1 hour' END,
	timestamptz '2024-01-01' + g * interval '1 day'
FROM generate_series(1, 60) g;
INSERT INTO feedback (id, claim_id, customer_id, rating, sentiment, created_at)
SELECT g, g % 70 + 1, g % 20 + 1, g % 5 + 1,
	CASE WHEN g % 4 = 0 THEN NULL ELSE (ARRAY['positive', 'neutral', 'negative'])[g % 3 + 1]::sentiment END,
	timestamptz '2024-06-01' + g * interval '1 hour'
FROM generate_series(1, 40) g;
});
WalstarTest::Shop::produce_raw($kafka, take_changes());
landing_caught_up('first changes');
metrics_agree('first changes');

# Late customers arrive, claims are resolved, re-opened and deleted,
# feedback is deleted.
$node->safe_psql('src', q{
INSERT INTO customers (id, full_name, email, country_code, created_at, updated_at)
SELECT g, 'c' || g, 'c' || g || '@example.com', 'FR', '2023-01-01', '2023-01-01' FROM generate_series(21, 25) g;
UPDATE claims SET status = 'approved', resolved_at = created_at + interval '3 days', updated_at = now()
WHERE id % 5 = 0 AND resolved_at IS NULL;
UPDATE claims SET status = 'open', resolved_at = NULL, updated_at = now() WHERE id IN (12, 24);
DELETE FROM claims WHERE id IN (3, 7, 59);
DELETE FROM feedback WHERE id % 9 = 0;
});
WalstarTest::Shop::produce_raw($kafka, take_changes());
landing_caught_up('late arrivals, updates and deletes');
metrics_agree('late arrivals, updates and deletes');

is(q_ana(q{SELECT usename FROM pg_stat_activity WHERE backend_type = 'walstar apply'}), 'app',
	'the worker that ran the triggers connects as app');
is(q_ana(q{SELECT count(*) FROM walstar.dead_letters}), '0', 'no change failed in the model');

# A landing change outside the worker, in a session with dbo's search_path,
# and the maintenance functions in such sessions.
as_role('app', q{UPDATE acme.feedback SET rating = rating WHERE id <= 5; TRUNCATE acme.feedback;});
is(q_ana(q{SELECT count(*) FROM claims.f_feedback}), '0', 'a TRUNCATE rebuilds the model, as app');
$node->safe_psql('ana', "SET ROLE app;\n"
	  . join('', map { "INSERT INTO acme.feedback VALUES $_;\n" }
		  split /\n/, $node->safe_psql('src', q{SELECT format('(%s, %s, %s, %s, %L, %L, %L)', id, claim_id,
			  customer_id, rating, comment, sentiment, created_at) FROM feedback ORDER BY id})));
landing_caught_up('feedback put back by hand');
is(as_role('app', q{SELECT count(*) FROM walstar_claims.verify()}), '0', 'verify(), as app, agrees');
as_role('app', q{SELECT walstar_claims.rebuild()});
metrics_agree('after rebuild() as app');

# --- the reader reads, and writes nothing
for my $stmt (q{INSERT INTO claims.r_claim_daily (period, customer_country, n) VALUES ('2020-01-01', 'DE', 1)},
	q{UPDATE claims.r_claim_all SET n = 0},
	q{DELETE FROM claims.f_claim},
	q{TRUNCATE claims.d_customer},
	q{SELECT walstar_claims.rebuild()},
	q{SELECT claims._refresh_claim(NULL)},
	q{SELECT count(*) FROM acme.claims})
{
	fails_as('analyst', $stmt, qr/permission denied/, "the reader may not: $stmt");
}
fails_as('eve', q{SELECT walstar_claims.rebuild()}, qr/permission denied/,
	'nor may a walstar_admin who does not own the landing tables rebuild');
for my $role (qw(app dbo eve analyst))
{
	is(q_ana(qq{SELECT has_schema_privilege('$role', 'walstar_claims', 'CREATE')}), 'f',
		"$role may not create in walstar_claims (the functions' search_path)");
}

# --- nothing of dbo's ever ran, and nobody became superuser
is(q_ana(q{SELECT count(*) FROM public.trap_log}), '0', 'none of the planted functions or operators was called')
  or diag(q_ana(q{SELECT who, what FROM public.trap_log}));
is(q_ana(q{SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper AND rolname IN ('dbo', 'app', 'eve', 'analyst')}),
	'', 'dbo, app, eve and analyst are still no superusers');

$node->stop;
done_testing();
