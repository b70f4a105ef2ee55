-- The model engine's value histograms: count_distinct and percentile
-- measures read (value, count) rows kept per rollup row.  Every metric
-- equals plain SQL over the landing table, as text with every float digit
-- (bit for bit), through one value, two, ties, all equal, NULLs, deletes of
-- the extremes and the median, moves between groups and days, a truncate
-- and empty periods; verify() is empty throughout; a histogram row changed
-- by hand changes the metric and verify() names it; a required argument
-- given as NULL is an error; a maximum of a rollup row with a NULL key
-- is computed again when it is deleted.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS walstar;
CREATE SCHEMA pct_land;
CREATE TABLE pct_land.obs (id int PRIMARY KEY, grp text, at timestamptz, done_at timestamptz, v numeric(10,2));
SELECT walstar.create_model($${"name": "pct", "landing_schema": "pct_land", "facts": {"obs": {"table": "obs", "time": "at",
  "columns": {"v": "v", "grp": "grp", "dur": "done_at - at"},
  "measures": {"n_obs": {"kind": "count"},
    "med_v": {"kind": "percentile", "of": "v", "fraction": 0.5},
    "p90_v": {"kind": "percentile", "of": "v", "fraction": 0.9},
    "p0_v": {"kind": "percentile", "of": "v", "fraction": 0},
    "p1_v": {"kind": "percentile", "of": "v", "fraction": 1},
    "q_dur": {"kind": "percentile", "of": "dur", "fraction": 0.25},
    "med_big": {"kind": "percentile", "of": "v", "fraction": 0.5, "filter": "v >= 10"},
    "distinct_v": {"kind": "count_distinct", "of": "v"},
    "max_v": {"kind": "max", "of": "v"},
    "total_v": {"kind": "sum", "of": "v", "required": ["grp"]},
    "v_per_obs": {"kind": "ratio", "numerator": "total_v", "denominator": "n_obs"}},
  "rollups": {"daily": {"grain": "day", "by": ["grp"], "keep_percentiles": false}, "monthly": {"grain": "month", "by": ["grp"]},
              "overall": {"grain": "all"}, "yearly": {"grain": "year", "by": ["grp"]},
              "plain": {"grain": "month", "by": ["grp"], "histograms": false}}}}}$$);
-- the histograms: one per (of, filter), per rollup but plain; bucket counts
-- of those of percentiles in the coarse rollups (overall, yearly), not in
-- daily or monthly
SELECT c.relname, obj_description(c.oid) FROM pg_class c WHERE c.relnamespace = 'pct'::regnamespace
	AND c.relname ~ '^hb?_' AND c.relkind = 'r' ORDER BY 1;
-- the percentiles kept per rollup row (<measure>_v): in the rollups whose
-- histograms have no bucket counts (monthly; daily says "keep_percentiles":
-- false)
SELECT a.attrelid::regclass, string_agg(a.attname, ', ' ORDER BY a.attnum) FROM pg_attribute a
WHERE a.attrelid IN (SELECT c.oid FROM pg_class c WHERE c.relnamespace = 'pct'::regnamespace AND c.relname ~ '^r_')
  AND a.attname IN ('med_v_v', 'p90_v_v', 'p0_v_v', 'p1_v_v', 'q_dur_v', 'med_big_v') GROUP BY 1 ORDER BY 1::text;
-- every metric against plain SQL, for periods (all, a month, days across
-- months, one day, none) and groups (all, a, b, none)
CREATE FUNCTION check_all() RETURNS TABLE (args text, metric text, have text, want text)
LANGUAGE plpgsql AS $$
DECLARE
	a record;
	w record;
BEGIN
	PERFORM set_config('extra_float_digits', '3', true);
	FOR a IN SELECT p.f::date AS f, p.t::date AS t, gg.g FROM (VALUES (NULL, NULL), ('2024-01-01', '2024-01-31'),
			('2024-01-03', '2024-02-10'), ('2024-02-05', '2024-02-05'), ('2030-01-01', '2030-12-31')) AS p(f, t)
			CROSS JOIN (VALUES (NULL), ('a'), ('b'), ('zz')) AS gg(g)
	LOOP
		SELECT count(*) AS n, percentile_cont(0.5) WITHIN GROUP (ORDER BY v) AS med,
			percentile_cont(0.9) WITHIN GROUP (ORDER BY v) AS p90, percentile_cont(0) WITHIN GROUP (ORDER BY v) AS p0,
			percentile_cont(1) WITHIN GROUP (ORDER BY v) AS p1, percentile_cont(0.25) WITHIN GROUP (ORDER BY done_at - at) AS q,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FILTER (WHERE v >= 10) AS big,
			count(DISTINCT v) AS d, sum(v) AS s, max(v) AS mx
		INTO w FROM pct_land.obs o
		WHERE (a.f IS NULL OR (o.at AT TIME ZONE 'UTC')::date >= a.f) AND (a.t IS NULL OR (o.at AT TIME ZONE 'UTC')::date <= a.t)
		  AND (a.g IS NULL OR o.grp = a.g);
		RETURN QUERY SELECT a::text, x.m, x.h, x.w FROM (VALUES
			('n_obs', pct.n_obs(a.f, a.t, a.g)::text, w.n::text),
			('med_v', pct.med_v(a.f, a.t, a.g)::text, w.med::text),
			('p90_v', pct.p90_v(a.f, a.t, a.g)::text, w.p90::text),
			('p0_v', pct.p0_v(a.f, a.t, a.g)::text, w.p0::text),
			('p1_v', pct.p1_v(a.f, a.t, a.g)::text, w.p1::text),
			('q_dur', pct.q_dur(a.f, a.t, a.g)::text, w.q::text),
			('med_big', pct.med_big(a.f, a.t, a.g)::text, w.big::text),
			('distinct_v', pct.distinct_v(a.f, a.t, a.g)::text, w.d::text),
			('max_v', pct.max_v(a.f, a.t, a.g)::text, w.mx::text),
			('total_v', CASE WHEN a.g IS NOT NULL THEN pct.total_v(a.f, a.t, a.g)::text END, CASE WHEN a.g IS NOT NULL THEN w.s::text END))
			AS x(m, h, w) WHERE x.h IS DISTINCT FROM x.w;
	END LOOP;
	-- the rollup function's rows, each from its own histogram (yearly: with
	-- bucket counts, monthly: without)
	RETURN QUERY SELECT 'obs_by_yearly', pg_catalog.row_to_json(x)::text, NULL, NULL FROM (
		(SELECT y.period, y.grp, y.med_v::text, y.p90_v::text, y.q_dur::text, y.distinct_v FROM pct.obs_by_yearly() AS y
		 EXCEPT SELECT date_trunc('year', (o.at AT TIME ZONE 'UTC')::date)::date, o.grp,
			(percentile_cont(0.5) WITHIN GROUP (ORDER BY v))::text, (percentile_cont(0.9) WITHIN GROUP (ORDER BY v))::text,
			(percentile_cont(0.25) WITHIN GROUP (ORDER BY done_at - at))::text, count(DISTINCT v)
			FROM pct_land.obs o GROUP BY 1, 2)
		UNION ALL
		(SELECT y.period, y.grp, y.med_v::text, y.p90_v::text, y.q_dur::text, y.distinct_v FROM pct.obs_by_monthly() AS y
		 EXCEPT SELECT date_trunc('month', (o.at AT TIME ZONE 'UTC')::date)::date, o.grp,
			(percentile_cont(0.5) WITHIN GROUP (ORDER BY v))::text, (percentile_cont(0.9) WITHIN GROUP (ORDER BY v))::text,
			(percentile_cont(0.25) WITHIN GROUP (ORDER BY done_at - at))::text, count(DISTINCT v)
			FROM pct_land.obs o GROUP BY 1, 2)
		UNION ALL
		-- daily: percentiles not kept per row, from each row's histogram
		(SELECT y.period, y.grp, y.med_v::text, y.p90_v::text, y.q_dur::text, y.distinct_v FROM pct.obs_by_daily() AS y
		 EXCEPT SELECT (o.at AT TIME ZONE 'UTC')::date, o.grp,
			(percentile_cont(0.5) WITHIN GROUP (ORDER BY v))::text, (percentile_cont(0.9) WITHIN GROUP (ORDER BY v))::text,
			(percentile_cont(0.25) WITHIN GROUP (ORDER BY done_at - at))::text, count(DISTINCT v)
			FROM pct_land.obs o GROUP BY 1, 2)
		UNION ALL
		-- without histograms: from the facts of each row, the maximum kept
		(SELECT y.period, y.grp, y.med_v::text, y.p90_v::text, y.max_v::text, y.distinct_v FROM pct.obs_by_plain() AS y
		 EXCEPT SELECT date_trunc('month', (o.at AT TIME ZONE 'UTC')::date)::date, o.grp,
			(percentile_cont(0.5) WITHIN GROUP (ORDER BY v))::text, (percentile_cont(0.9) WITHIN GROUP (ORDER BY v))::text,
			max(v)::text, count(DISTINCT v)
			FROM pct_land.obs o GROUP BY 1, 2)) AS x;
	RETURN QUERY SELECT 'verify', v.object, v.problem, v.detail FROM pct.verify() AS v;
	-- no histogram row at a count of 0 or below
	RETURN QUERY SELECT 'histogram', 'h_obs_daily_1', h::text, NULL FROM pct.h_obs_daily_1 AS h WHERE h._count <= 0;
END $$;
-- empty: percentiles NULL, counts 0
SELECT pct.med_v(), pct.q_dur(), pct.distinct_v(), pct.n_obs(), pct.total_v(p_grp => 'a');
SELECT * FROM check_all();
-- one value, then two, then ties and all equal
INSERT INTO pct_land.obs VALUES (1, 'a', '2024-01-05 10:00+00', '2024-01-05 12:00+00', 10.25);
SELECT pct.med_v(), pct.p90_v(), pct.q_dur();
SELECT * FROM check_all();
INSERT INTO pct_land.obs VALUES (2, 'a', '2024-01-06 10:00+00', '2024-01-07 10:00:00.000001+00', 11.10);
SELECT pct.med_v(), pct.p90_v(), pct.q_dur();
SELECT * FROM check_all();
UPDATE pct_land.obs SET v = 7.77, done_at = at + interval '3 hours';
SELECT pct.med_v(), pct.distinct_v(), pct.q_dur();
SELECT * FROM check_all();
INSERT INTO pct_land.obs SELECT i, 'b', '2024-01-10 08:00+00', '2024-01-10 09:00+00', 7.77 FROM generate_series(3, 6) i;
SELECT * FROM check_all();
-- many rows with ties and NULLs over two months, in one statement
SELECT setseed(0.35);
INSERT INTO pct_land.obs SELECT i, CASE WHEN random() < 0.5 THEN 'a' ELSE 'b' END,
	'2024-01-01 00:00+00'::timestamptz + random() * interval '58 days',
	CASE WHEN random() < 0.9 THEN '2024-03-01 00:00+00'::timestamptz - floor(random() * 30) * interval '1 hour' END,
	CASE WHEN random() < 0.9 THEN round((random() * 20)::numeric, CASE WHEN random() < 0.5 THEN 0 ELSE 2 END) END
FROM generate_series(7, 400) i;
SELECT * FROM check_all();
-- values at, just below and just above bucket boundaries, both signs and 0,
-- in every group (NULL too): ranks on both sides of a boundary
INSERT INTO pct_land.obs SELECT 3000 + i, CASE i % 3 WHEN 0 THEN NULL WHEN 1 THEN 'a' ELSE 'b' END,
	'2024-02-10 00:00+00'::timestamptz + i * interval '1 hour',
	'2024-02-10 00:00+00'::timestamptz + i * interval '1 hour' + i * interval '1.5 seconds',
	(ARRAY[1.00, 1.02, 0.99, 0, -1.00, -0.01, 10.00, 9.99, 97.70, 100.00, 0.01, 1.01, 1.03])[1 + i % 13]
FROM generate_series(1, 78) i;
SELECT * FROM check_all();
-- deletes of the extremes and of the median values
DELETE FROM pct_land.obs WHERE v = (SELECT max(v) FROM pct_land.obs) OR v = (SELECT min(v) FROM pct_land.obs);
SELECT * FROM check_all();
DELETE FROM pct_land.obs WHERE v = (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY v) FROM pct_land.obs);
SELECT * FROM check_all();
-- moves between groups and days, values set NULL and back, a key change
UPDATE pct_land.obs SET grp = CASE grp WHEN 'a' THEN 'b' ELSE 'a' END, at = at + interval '20 days' WHERE id % 7 = 0;
UPDATE pct_land.obs SET v = NULL WHERE id % 11 = 0;
UPDATE pct_land.obs SET v = 3.00 WHERE id % 13 = 0;
UPDATE pct_land.obs SET id = id + 1000 WHERE id % 17 = 0;
SELECT * FROM check_all();
-- the largest values in a group NULL (a rollup row with a NULL key), then
-- deleted: the kept maximum of that row is computed again
INSERT INTO pct_land.obs SELECT i, NULL, '2024-01-20 12:00+00', NULL, 50 + i % 3 FROM generate_series(2001, 2010) i;
SELECT pct.max_v(), pct.p1_v();
SELECT * FROM check_all();
DELETE FROM pct_land.obs WHERE grp IS NULL AND v >= 51;
SELECT pct.max_v(), pct.p1_v();
SELECT * FROM check_all();
DELETE FROM pct_land.obs WHERE grp IS NULL;
SELECT * FROM check_all();
-- a whole group goes
DELETE FROM pct_land.obs WHERE grp = 'b';
SELECT * FROM check_all();
SELECT count(*) > 0 AS kept, bool_and(grp = 'a') AS only_a FROM pct.h_obs_daily_1;
-- a histogram row and its bucket's count changed by hand: the metric reads
-- them, verify() names them
UPDATE pct.h_obs_overall_1 SET _count = _count + 1000 WHERE _value = (SELECT max(_value) FROM pct.h_obs_overall_1);
UPDATE pct.hb_obs_overall_1 SET _count = _count + 1000 WHERE _bucket = (SELECT max(_bucket) FROM pct.hb_obs_overall_1);
SELECT pct.med_v() = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM pct_land.obs) AS med_agrees,
	pct.p1_v() = (SELECT max(v) FROM pct_land.obs)::float8 AS max_agrees;
-- a percentile kept in a rollup row (monthly: histograms without bucket
-- counts) changed by hand: the rollup function reads the column, verify()
-- names the row
UPDATE pct.r_obs_monthly SET med_v_v = -1 WHERE grp = 'a' AND period = '2024-02-01';
SELECT y.period, y.grp, y.med_v FROM pct.obs_by_monthly('2024-02-01', '2024-02-01', 'a') AS y;
SELECT object, problem FROM pct.verify();
SELECT pct.rebuild();
SELECT * FROM check_all();
-- a truncate, then rows again
TRUNCATE pct_land.obs;
SELECT * FROM check_all();
SELECT count(*) FROM pct.h_obs_daily_1;
INSERT INTO pct_land.obs SELECT i, 'a', '2024-02-01 00:00+00'::timestamptz + i * interval '1 hour', NULL, i % 5 FROM generate_series(1, 50) i;
SELECT * FROM check_all();
-- required arguments: NULL is an error, named or positional; the ratio
-- over it inherits it; the COMMENT says so
SELECT pct.total_v('2024-01-01', '2024-12-31');
SELECT pct.v_per_obs();
SELECT pct.total_v(p_grp => 'a'), pct.v_per_obs(p_grp => 'a');
SELECT obj_description('pct.total_v(date, date, text)'::regprocedure);
SELECT walstar.create_model(jsonb_set(declaration, '{facts,obs,measures,total_v,required}', '["nope"]') || '{"name": "pct2"}')
FROM pct._declaration;
SELECT walstar.create_model(jsonb_set(declaration, '{facts,obs,measures,total_v,required}', '"grp"') || '{"name": "pct2"}')
FROM pct._declaration;
-- "histograms", "buckets" and "keep_percentiles" are true or false
SELECT walstar.create_model(jsonb_set(declaration, '{facts,obs,rollups,plain,histograms}', '"yes"') || '{"name": "pct3"}')
FROM pct._declaration;
SELECT walstar.create_model(jsonb_set(declaration, '{facts,obs,rollups,plain,buckets}', '1') || '{"name": "pct3"}')
FROM pct._declaration;
SELECT walstar.create_model(jsonb_set(declaration, '{facts,obs,rollups,daily,keep_percentiles}', '"no"') || '{"name": "pct3"}')
FROM pct._declaration;
-- walstar._percentile_ranks() (the kept percentiles' ranks): per fraction
-- the positions of the values at ranks floor and ceil of f * (n - 1) and
-- the part between; NULL for no values; bad input is an error
SELECT walstar._percentile_ranks('{2,1,3}', '{0,0.5,0.9,1}');
SELECT walstar._percentile_ranks('{}', '{0.5}') IS NULL AS empty_is_null;
SELECT walstar._percentile_ranks('{1,NULL}', '{0.5}');
SELECT walstar._percentile_ranks('{1,0}', '{0.5}');
SELECT walstar._percentile_ranks('{1}', '{1.5}');
SELECT walstar._percentile_ranks('{1}', '{NaN}');
SELECT walstar._percentile_ranks('{{1,2},{3,4}}', '{0.5}');
SELECT walstar.drop_model('pct');
