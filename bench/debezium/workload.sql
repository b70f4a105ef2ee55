-- Tables and workload of the walstar vs Debezium benchmark (bench/debezium).
--
-- The decoder benchmark's table and mix (bench/decoder/run.sh): bulk inserts
-- in 1000-row transactions into a 10-column table of mixed types, then
-- updates of 20% of the rows and deletes of 5%, also 1000 rows per
-- transaction, with the same statements. Rows with id % 5 = 0 are
-- updated, rows with id % 20 = 1 deleted, so the expected changes follow
-- from the row count alone (bench_expected).

CREATE TABLE public.bench_items (
	id bigint PRIMARY KEY,
	qty int,
	amount numeric(12,2),
	score float8,
	active bool,
	name text,
	code varchar(32),
	created timestamptz,
	day date,
	ref uuid
);

-- Same shape: the warm-up table, and one latency table per pipeline (rows
-- written by pgbench, one per transaction; ids from an identity).
CREATE TABLE public.bench_warmup (LIKE public.bench_items INCLUDING ALL);

CREATE PROCEDURE public.bench_load(tbl regclass, n bigint, batch integer)
LANGUAGE plpgsql
AS $$
DECLARE
	lo bigint;
BEGIN
	lo := 1;
	WHILE lo <= n LOOP
		EXECUTE format($q$
			INSERT INTO %s
			SELECT g, g %% 1000, (g %% 100000) / 100.0, g * 1.5, g %% 2 = 0, 'name ' || g,
			       'code-' || (g %% 977),
			       timestamptz '2024-01-01 00:00+00' + g * interval '1 second',
			       date '2024-01-01' + (g %% 365)::integer, md5(g::text)::uuid
			FROM generate_series($1, $2) g$q$, tbl)
		USING lo, least(lo + batch - 1, n);
		COMMIT;
		lo := lo + batch;
	END LOOP;

	-- 20%: every fifth row, batch rows per transaction.
	lo := 1;
	WHILE lo <= n LOOP
		EXECUTE format($q$
			UPDATE %s SET qty = qty + 1, name = name || '!', created = created + interval '1 day'
			WHERE id BETWEEN $1 AND $2 AND id %% 5 = 0$q$, tbl)
		USING lo, least(lo + 5 * batch - 1, n);
		COMMIT;
		lo := lo + 5 * batch;
	END LOOP;

	-- 5%: every twentieth row, batch rows per transaction.
	lo := 1;
	WHILE lo <= n LOOP
		EXECUTE format($q$
			DELETE FROM %s WHERE id BETWEEN $1 AND $2 AND id %% 20 = 1$q$, tbl)
		USING lo, least(lo + 20 * batch - 1, n);
		COMMIT;
		lo := lo + 20 * batch;
	END LOOP;
END
$$;

-- What the topics of a table loaded with bench_load(n) must hold: count, sum
-- and maximum of the ids per operation.
CREATE FUNCTION public.bench_expected(n bigint,
	OUT ins_count bigint, OUT ins_sum numeric, OUT ins_max bigint,
	OUT upd_count bigint, OUT upd_sum numeric, OUT upd_max bigint,
	OUT del_count bigint, OUT del_sum numeric, OUT del_max bigint)
LANGUAGE sql
AS $$
	SELECT count(*), sum(g), max(g),
	       count(*) FILTER (WHERE g % 5 = 0), sum(g) FILTER (WHERE g % 5 = 0),
	       max(g) FILTER (WHERE g % 5 = 0),
	       count(*) FILTER (WHERE g % 20 = 1), sum(g) FILTER (WHERE g % 20 = 1),
	       max(g) FILTER (WHERE g % 20 = 1)
	FROM generate_series(1, n) g
$$;
