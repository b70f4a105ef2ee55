/* walstar--0.1.sql: the walstar extension, version 0.1 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION walstar" to load this file. \quit

-- Roles (cluster-wide, so created only when missing and never dropped with
-- the extension): walstar_admin configures subscriptions and workers;
-- walstar_reader may read status and, in model extensions, metrics.
DO $roles$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walstar_admin') THEN
		CREATE ROLE walstar_admin NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'walstar_reader') THEN
		CREATE ROLE walstar_reader NOLOGIN;
	END IF;
END
$roles$;

GRANT USAGE ON SCHEMA @extschema@ TO walstar_admin, walstar_reader;

CREATE FUNCTION @extschema@.decode(message bytea)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'walstar_decode'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.decode(bytea) IS
	'a walstar.v1.Change message (Kafka value) as JSON';
REVOKE ALL ON FUNCTION @extschema@.decode(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.decode(bytea) TO walstar_admin, walstar_reader;
