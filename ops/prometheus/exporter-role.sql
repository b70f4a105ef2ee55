-- The role prometheus-postgres-exporter connects as.  Run as a superuser,
-- in the analytics database after CREATE EXTENSION walstar (the
-- walstar_claims part only where that model is installed), and in each
-- source database (the pg_monitor part suffices there).  Give it a
-- password or a peer/cert rule in pg_hba.conf yourself: never in this
-- file or in the exporter's command line.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'walstar_exporter') THEN
		CREATE ROLE walstar_exporter LOGIN;
	END IF;
END
$$;
GRANT pg_monitor TO walstar_exporter;

DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'walstar') THEN
		-- status view and metric functions; the subscriptions' names and
		-- states, and of dead letters only subscription, error and time
		-- (never their bytes, which hold row values)
		GRANT walstar_reader TO walstar_exporter;
		GRANT SELECT (id, name, enabled) ON walstar.subscriptions TO walstar_exporter;
		GRANT SELECT (subscription_id, pid, state, started_at)
			ON walstar.subscription_workers TO walstar_exporter;
		GRANT SELECT (subscription, error, created_at) ON walstar.dead_letters TO walstar_exporter;
	END IF;
END
$$;
