/* walstar--0.2.sql: the walstar extension, version 0.2 (a fresh install) */

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

-- Subscriptions: which Kafka topics feed which landing schema. Changing a
-- row bumps config_version, which running workers watch.
CREATE TABLE @extschema@.subscriptions (
	id serial PRIMARY KEY,
	name text NOT NULL UNIQUE
		CHECK (name ~ '^[A-Za-z0-9_.-]{1,63}$'),
	brokers text NOT NULL CHECK (brokers <> ''),
	topics text[] CHECK (cardinality(topics) > 0),
	topic_pattern text CHECK (topic_pattern LIKE '^%'),
	properties jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(properties) = 'object'),
	landing_schema name NOT NULL DEFAULT 'walstar_landing' CHECK (landing_schema <> ''),
	batch_size integer NOT NULL DEFAULT 10000 CHECK (batch_size BETWEEN 1 AND 1000000),
	batch_time interval NOT NULL DEFAULT '200ms'
		CHECK (batch_time > '0' AND batch_time <= '1 hour'),
	error_policy text NOT NULL DEFAULT 'dead_letter'
		CHECK (error_policy IN ('dead_letter', 'stop')),
	enabled boolean NOT NULL DEFAULT false,
	-- a pending walstar.rewind(subscription, timestamptz), resolved by the worker
	rewind_time timestamptz,
	config_version bigint NOT NULL DEFAULT 1,
	created_at timestamptz NOT NULL DEFAULT now(),
	-- the role the apply worker connects as (the creator; changed only by
	-- a superuser, with alter_subscription_owner)
	owner oid NOT NULL,
	-- a column dropped at the source (a captured DDL record says so): kept
	-- in the landing table (NULL in new rows), or dropped there too
	dropped_columns text NOT NULL DEFAULT 'keep'
		CHECK (dropped_columns IN ('keep', 'drop')),
	-- apply workers sharing the partitions: partition p of a topic belongs
	-- to worker (hash of the topic's name + p) mod workers (_partition_worker)
	workers integer NOT NULL DEFAULT 1 CHECK (workers BETWEEN 1 AND 64),
	CHECK ((topics IS NULL) <> (topic_pattern IS NULL))
);
COMMENT ON TABLE @extschema@.subscriptions IS
	'Kafka topics (a list or a ^regex) applied into a landing schema';

-- Per partition: the next offset to apply and the last applied source
-- position; written in the same transaction as the landing tables.
CREATE TABLE @extschema@.subscription_offsets (
	subscription_id integer NOT NULL
		REFERENCES @extschema@.subscriptions ON DELETE CASCADE,
	topic text NOT NULL,
	partition integer NOT NULL,
	next_offset bigint NOT NULL,
	last_commit_lsn pg_lsn NOT NULL DEFAULT '0/0',
	last_position bigint NOT NULL DEFAULT 0,
	last_commit_time timestamptz,
	high_watermark bigint,
	messages_per_second double precision,
	applied_messages bigint NOT NULL DEFAULT 0,
	applied_at timestamptz,
	-- who writes this partition (the first applied change's Change.source
	-- and system_id); a change of another source is refused, not compared
	-- by an LSN of another server (see walstar.forget_source)
	source text,
	system_identifier bigint,
	-- the newest change applied into a landing table (by the worker or a
	-- retry): walstar.retry_dead_letter applies only letters above it
	applied_commit_lsn pg_lsn NOT NULL DEFAULT '0/0',
	applied_position bigint NOT NULL DEFAULT 0,
	-- the newest HEARTBEAT record of the sink (an idle topic): as of its
	-- commit time (the source's clock) the source had nothing more for
	-- this partition before its lsn; heartbeat_gap: seconds between the
	-- last two, the sink's heartbeat-interval as seen here
	last_heartbeat_time timestamptz,
	last_heartbeat_lsn pg_lsn,
	heartbeat_gap double precision,
	-- the timeline of the last applied change, before its commit LSN in
	-- the order of changes (a promoted standby reuses LSNs on a new
	-- timeline); 0: not known (records from before the field)
	last_timeline bigint NOT NULL DEFAULT 0,
	-- the timeline of last_heartbeat_lsn (the sink's, 0: not known)
	last_heartbeat_timeline bigint,
	-- the timeline of applied_commit_lsn (0: not known)
	applied_timeline bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (subscription_id, topic, partition)
);

-- Which source table each landing table holds. The name rule (schema__table,
-- cut to 63 bytes) is not injective: a second source table (or the same
-- table of another source) that maps to a taken name is refused with a
-- reason instead of overwriting the first one's rows.
CREATE TABLE @extschema@.landing_tables (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	source text NOT NULL,
	system_identifier bigint NOT NULL,
	source_schema text NOT NULL,
	source_table text NOT NULL,
	registered_at timestamptz NOT NULL DEFAULT now(),
	-- the source column layout last applied (see landing_table.c): a rename
	-- keeps the attnum, a retyped column is refused until the landing
	-- column has the new type
	source_attnums integer[],
	source_columns text[],
	source_types text[],
	-- commit LSN of the initial copy (READ records) that filled it: a newer
	-- copy empties the table first, anything older is superseded
	copy_lsn pg_lsn,
	-- (commit LSN, position) of the captured DDL record last applied: the
	-- same record comes once per partition of the topic
	ddl_commit_lsn pg_lsn,
	ddl_position bigint,
	-- the timeline of copy_lsn: a copy made on a newer timeline (after a
	-- source failover) is newer whatever its LSN; 0: not known
	copy_timeline bigint NOT NULL DEFAULT 0,
	-- the timeline of ddl_commit_lsn (0: not known)
	ddl_timeline bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (landing_schema, landing_table)
);

-- What each of a subscription's workers is doing; written by the worker
-- outside the apply transactions.
CREATE TABLE @extschema@.subscription_workers (
	subscription_id integer NOT NULL
		REFERENCES @extschema@.subscriptions ON DELETE CASCADE,
	pid integer,
	state text NOT NULL,
	last_error text,
	last_error_time timestamptz,
	started_at timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now(),
	-- 0 .. workers - 1: which partitions it applies (_partition_worker);
	-- last, where walstar--0.1--0.2.sql adds it
	worker integer NOT NULL DEFAULT 0,
	PRIMARY KEY (subscription_id, worker)
);

-- Partitions waiting at a captured DDL record (ddl_barrier.c) for the
-- topic's partitions that other workers apply: this partition applied
-- everything before the record at (commit_lsn, position). Written in the
-- apply transaction that parks it, removed by the one that passes it.
CREATE TABLE @extschema@.ddl_barrier_arrivals (
	subscription_id integer NOT NULL
		REFERENCES @extschema@.subscriptions ON DELETE CASCADE,
	topic text NOT NULL,
	partition integer NOT NULL,
	commit_lsn pg_lsn NOT NULL,
	position bigint NOT NULL,
	-- the timeline of commit_lsn (0: not known)
	timeline bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (subscription_id, topic, partition)
);

-- The worker (0 .. workers - 1) that applies a partition: the same
-- function the workers assign their partitions with.
CREATE FUNCTION @extschema@._partition_worker(topic text, partition integer, workers integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'walstar_partition_worker'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- The order of two stream positions (timeline, commit LSN, position):
-- -1, 0 or 1; timeline 0 (not known) equals any (stream_position.c).
CREATE FUNCTION @extschema@._position_cmp(timeline_a bigint, lsn_a pg_lsn, position_a bigint,
	timeline_b bigint, lsn_b pg_lsn, position_b bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'walstar_position_cmp'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Messages that could not be decoded or applied, with the reason.
CREATE TABLE @extschema@.dead_letters (
	id bigserial PRIMARY KEY,
	subscription text NOT NULL,
	topic text NOT NULL,
	partition integer NOT NULL,
	"offset" bigint NOT NULL,
	raw bytea,
	error text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	retries integer NOT NULL DEFAULT 0
);
CREATE INDEX ON @extschema@.dead_letters (subscription, topic, partition, "offset");

SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscriptions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.subscription_offsets', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.landing_tables', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dead_letters_id_seq', '');

-- The role calling a walstar function, also inside SECURITY DEFINER ones
-- (the outer user: what SET ROLE chose).
CREATE FUNCTION @extschema@._caller()
RETURNS oid
AS 'MODULE_PATHNAME', 'walstar_caller'
LANGUAGE C STABLE STRICT;

-- A subscription's owner must be able to log in (its worker connects as it)
-- and to create in the landing schema (or, while that does not exist, in
-- the database): the worker never writes where its owner could not.
CREATE FUNCTION @extschema@._check_owner(owner oid, landing_schema name)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	who name := (SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.oid = owner);
BEGIN
	IF who IS NULL THEN
		RAISE EXCEPTION 'subscription owner % does not exist', owner
			USING ERRCODE = 'undefined_object';
	END IF;
	IF NOT (SELECT r.rolcanlogin FROM pg_catalog.pg_roles r WHERE r.oid = owner) THEN
		RAISE EXCEPTION 'role "%" cannot own a subscription: it cannot log in', who
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'The apply worker connects as the subscription owner.',
				HINT = 'Create the subscription as a login role.';
	END IF;
	IF EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname = landing_schema) THEN
		IF NOT pg_catalog.has_schema_privilege(owner, landing_schema::text, 'CREATE') THEN
			RAISE EXCEPTION 'permission denied for schema %', landing_schema
				USING ERRCODE = 'insufficient_privilege',
					DETAIL = pg_catalog.format('Role "%s" may not create in the landing schema.', who),
					HINT = 'Use a landing schema the role owns or may create in.';
		END IF;
	ELSIF NOT pg_catalog.has_database_privilege(owner, pg_catalog.current_database(), 'CREATE') THEN
		RAISE EXCEPTION 'permission denied to create schema %', landing_schema
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = pg_catalog.format('Role "%s" may not create schemas in this database.', who);
	END IF;
END
$$;

-- Acting on a subscription (changing, starting, stopping, rewinding or
-- dropping it, or retrying or discarding its dead letters) is for its owner,
-- the owner's members and superusers.  Another walstar_admin could
-- otherwise point it at a broker of its own and so write into the owner's
-- landing tables with the owner's rights.  Letters of a subscription that no
-- longer exists are a superuser's.
CREATE FUNCTION @extschema@._check_manager(subscription text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	who oid := @extschema@._caller();
	owner_id oid;
BEGIN
	IF (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = who) THEN
		RETURN;
	END IF;
	SELECT x.owner INTO owner_id FROM @extschema@.subscriptions x WHERE x.name = subscription;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'must be superuser to act on subscription "%": it does not exist', subscription
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.oid = owner_id)
		OR NOT pg_catalog.pg_has_role(who, owner_id, 'MEMBER') THEN
		RAISE EXCEPTION 'must be owner of subscription "%"', subscription
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = pg_catalog.format('The subscription belongs to role "%s".',
					pg_catalog.pg_get_userbyid(owner_id));
	END IF;
END
$$;

-- Argument checks shared by create and alter, with errors that name the
-- argument.
CREATE FUNCTION @extschema@._check_subscription(s @extschema@.subscriptions)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	t text;
	k text;
	v jsonb;
BEGIN
	IF s.name IS NULL OR s.name !~ '^[A-Za-z0-9_.-]{1,63}$' THEN
		RAISE EXCEPTION 'invalid subscription name "%"', s.name
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Use 1 to 63 letters, digits, "_", "." or "-".';
	END IF;
	IF s.brokers IS NULL OR btrim(s.brokers) = '' THEN
		RAISE EXCEPTION 'brokers must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF (s.topics IS NULL) = (s.topic_pattern IS NULL) THEN
		RAISE EXCEPTION 'give either topics or topic_pattern'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.topics IS NOT NULL THEN
		IF cardinality(s.topics) = 0 THEN
			RAISE EXCEPTION 'topics must not be empty'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		FOREACH t IN ARRAY s.topics LOOP
			IF t IS NULL OR t !~ '^[A-Za-z0-9._-]{1,249}$' THEN
				RAISE EXCEPTION 'invalid topic name "%"', t
					USING ERRCODE = 'invalid_parameter_value',
						HINT = 'Kafka topic names use letters, digits, ".", "_" and "-".';
			END IF;
		END LOOP;
	ELSE
		IF s.topic_pattern !~ '^\^' THEN
			RAISE EXCEPTION 'topic_pattern must start with "^"'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		BEGIN
			PERFORM '' ~ s.topic_pattern;
		EXCEPTION WHEN invalid_regular_expression THEN
			RAISE EXCEPTION 'invalid topic_pattern "%"', s.topic_pattern
				USING ERRCODE = 'invalid_parameter_value', DETAIL = SQLERRM;
		END;
	END IF;
	IF s.properties IS NULL OR jsonb_typeof(s.properties) <> 'object' THEN
		RAISE EXCEPTION 'properties must be a JSON object of librdkafka settings'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR k, v IN SELECT * FROM jsonb_each(s.properties) LOOP
		IF jsonb_typeof(v) NOT IN ('string', 'number', 'boolean') THEN
			RAISE EXCEPTION 'property "%" must be a string, number or boolean', k
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF k IN ('bootstrap.servers', 'metadata.broker.list') THEN
			RAISE EXCEPTION 'property "%" is set by walstar', k
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Use the brokers argument.';
		END IF;
		IF k IN ('group.id', 'enable.auto.commit', 'enable.auto.offset.store',
				 'log.queue', 'enable.partition.eof') THEN
			RAISE EXCEPTION 'property "%" is set by walstar', k
				USING ERRCODE = 'invalid_parameter_value',
					DETAIL = 'walstar assigns partitions itself and stores offsets in the database.';
		END IF;
	END LOOP;
	IF s.landing_schema IS NULL OR s.landing_schema = '' THEN
		RAISE EXCEPTION 'landing_schema must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.landing_schema IN ('walstar', 'pg_catalog', 'information_schema')
		OR s.landing_schema LIKE 'pg\_%' THEN
		RAISE EXCEPTION 'landing_schema "%" is reserved', s.landing_schema
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.batch_size IS NULL OR s.batch_size NOT BETWEEN 1 AND 1000000 THEN
		RAISE EXCEPTION 'batch_size must be between 1 and 1000000'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.batch_time IS NULL OR s.batch_time <= '0' OR s.batch_time > '1 hour' THEN
		RAISE EXCEPTION 'batch_time must be positive and at most 1 hour'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.error_policy IS NULL OR s.error_policy NOT IN ('dead_letter', 'stop') THEN
		RAISE EXCEPTION 'error_policy must be "dead_letter" or "stop", not "%"', s.error_policy
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.dropped_columns IS NULL OR s.dropped_columns NOT IN ('keep', 'drop') THEN
		RAISE EXCEPTION 'dropped_columns must be "keep" or "drop", not "%"', s.dropped_columns
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF s.workers IS NULL OR s.workers NOT BETWEEN 1 AND 64 THEN
		RAISE EXCEPTION 'workers must be between 1 and 64'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
END
$$;

CREATE FUNCTION @extschema@._subscription_id(subscription text)
RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	result integer;
BEGIN
	SELECT id INTO result FROM @extschema@.subscriptions WHERE name = subscription;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'subscription "%" does not exist', subscription
			USING ERRCODE = 'undefined_object';
	END IF;
	RETURN result;
END
$$;

-- The subscription one of walstar's SECURITY DEFINER functions is about to
-- change: its id, once _check_manager let the caller act on it, with its
-- row locked and its configuration version bumped once, so that its worker
-- reloads at its next batch.  Not granted to anyone: only those functions
-- call it.
CREATE FUNCTION @extschema@._reconfigure(subscription text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._subscription_id(subscription);
BEGIN
	PERFORM @extschema@._check_manager(subscription);
	UPDATE @extschema@.subscriptions x
	SET config_version = x.config_version + 1
	WHERE x.id = sub_id;
	RETURN sub_id;
END
$$;

-- librdkafka properties given as 'key=value' strings, as a JSON object.
CREATE FUNCTION @extschema@.kafka_properties(settings text[])
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	item text;
	result jsonb := '{}';
BEGIN
	FOREACH item IN ARRAY settings LOOP
		IF item IS NULL OR position('=' IN item) < 2 THEN
			RAISE EXCEPTION 'invalid property "%"', item
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Write properties as ''name=value''.';
		END IF;
		result := result || jsonb_build_object(split_part(item, '=', 1),
			substr(item, position('=' IN item) + 1));
	END LOOP;
	RETURN result;
END
$$;

CREATE FUNCTION @extschema@.create_subscription(
	name text,
	brokers text,
	topics text[] DEFAULT NULL,
	topic_pattern text DEFAULT NULL,
	properties jsonb DEFAULT '{}',
	landing_schema name DEFAULT 'walstar_landing',
	batch_size integer DEFAULT 10000,
	batch_time interval DEFAULT '200ms',
	error_policy text DEFAULT 'dead_letter',
	enabled boolean DEFAULT false,
	dropped_columns text DEFAULT 'keep',
	workers integer DEFAULT 1)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	s @extschema@.subscriptions;
BEGIN
	s.name := name;
	s.brokers := brokers;
	s.topics := topics;
	s.topic_pattern := topic_pattern;
	s.properties := properties;
	s.landing_schema := landing_schema;
	s.batch_size := batch_size;
	s.batch_time := batch_time;
	s.error_policy := error_policy;
	s.dropped_columns := dropped_columns;
	s.workers := workers;
	PERFORM @extschema@._check_subscription(s);
	s.owner := @extschema@._caller();
	PERFORM @extschema@._check_owner(s.owner, s.landing_schema);
	IF EXISTS (SELECT FROM @extschema@.subscriptions x WHERE x.name = s.name) THEN
		RAISE EXCEPTION 'subscription "%" already exists', s.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO @extschema@.subscriptions AS x (name, brokers, topics, topic_pattern,
		properties, landing_schema, batch_size, batch_time, error_policy, owner,
		dropped_columns, workers)
	VALUES (s.name, s.brokers, s.topics, s.topic_pattern, s.properties,
		s.landing_schema, s.batch_size, s.batch_time, s.error_policy, s.owner,
		s.dropped_columns, s.workers)
	RETURNING x.id INTO s.id;
	IF enabled THEN
		PERFORM @extschema@.start_subscription(s.name);
	END IF;
	RETURN s.id;
END
$$;

-- NULL arguments keep the current setting.
CREATE FUNCTION @extschema@.alter_subscription(
	name text,
	brokers text DEFAULT NULL,
	topics text[] DEFAULT NULL,
	topic_pattern text DEFAULT NULL,
	properties jsonb DEFAULT NULL,
	landing_schema name DEFAULT NULL,
	batch_size integer DEFAULT NULL,
	batch_time interval DEFAULT NULL,
	error_policy text DEFAULT NULL,
	dropped_columns text DEFAULT NULL,
	workers integer DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(name);
	s @extschema@.subscriptions;
BEGIN
	SELECT * INTO s FROM @extschema@.subscriptions x WHERE x.id = sub_id;
	IF topics IS NOT NULL AND topic_pattern IS NOT NULL THEN
		RAISE EXCEPTION 'give either topics or topic_pattern'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	s.brokers := coalesce(brokers, s.brokers);
	IF topics IS NOT NULL THEN
		s.topics := topics;
		s.topic_pattern := NULL;
	ELSIF topic_pattern IS NOT NULL THEN
		s.topic_pattern := topic_pattern;
		s.topics := NULL;
	END IF;
	s.properties := coalesce(properties, s.properties);
	s.landing_schema := coalesce(landing_schema, s.landing_schema);
	s.batch_size := coalesce(batch_size, s.batch_size);
	s.batch_time := coalesce(batch_time, s.batch_time);
	s.error_policy := coalesce(error_policy, s.error_policy);
	s.dropped_columns := coalesce(dropped_columns, s.dropped_columns);
	s.workers := coalesce(workers, s.workers);
	PERFORM @extschema@._check_subscription(s);
	PERFORM @extschema@._check_owner(s.owner, s.landing_schema);
	UPDATE @extschema@.subscriptions x
	SET brokers = s.brokers, topics = s.topics, topic_pattern = s.topic_pattern,
		properties = s.properties, landing_schema = s.landing_schema,
		batch_size = s.batch_size, batch_time = s.batch_time,
		error_policy = s.error_policy, dropped_columns = s.dropped_columns,
		workers = s.workers
	WHERE x.id = s.id;
END
$$;

-- A new owner for a subscription (superusers only): its worker restarts as it.
CREATE FUNCTION @extschema@.alter_subscription_owner(name text, new_owner regrole)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._subscription_id(name);
BEGIN
	IF NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.oid = @extschema@._caller()) THEN
		RAISE EXCEPTION 'must be superuser to change the owner of a subscription'
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	PERFORM @extschema@._reconfigure(name);
	PERFORM @extschema@._check_owner(new_owner, (SELECT x.landing_schema
		FROM @extschema@.subscriptions x WHERE x.id = sub_id));
	UPDATE @extschema@.subscriptions x SET owner = new_owner WHERE x.id = sub_id;
END
$$;

CREATE FUNCTION @extschema@.drop_subscription(name text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
BEGIN
	IF if_exists AND NOT EXISTS (SELECT FROM @extschema@.subscriptions x WHERE x.name = $1) THEN
		RETURN false;
	END IF;
	PERFORM @extschema@._subscription_id($1);
	PERFORM @extschema@._check_manager($1);
	DELETE FROM @extschema@.subscriptions x WHERE x.id = @extschema@._subscription_id($1);
	RETURN true;
END
$$;

CREATE FUNCTION @extschema@.start_worker(subscription text)
RETURNS integer
AS 'MODULE_PATHNAME', 'walstar_start_worker'
LANGUAGE C STRICT;
COMMENT ON FUNCTION @extschema@.start_worker(text) IS
	'start the apply workers of an enabled subscription now (without shared_preload_libraries); returns the pid of the first';

CREATE FUNCTION @extschema@.launcher_running()
RETURNS boolean
AS 'MODULE_PATHNAME', 'walstar_launcher_running'
LANGUAGE C STRICT;

-- Enable a subscription; the launcher (shared_preload_libraries) starts its
-- worker, or, without the launcher, start_worker does it now.
CREATE FUNCTION @extschema@.start_subscription(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(name);
BEGIN
	UPDATE @extschema@.subscriptions x SET enabled = true WHERE x.id = sub_id;
	IF NOT @extschema@.launcher_running() THEN
		PERFORM @extschema@.start_worker(name);
	END IF;
END
$$;

-- Disable a subscription; its worker exits after the batch in progress.
CREATE FUNCTION @extschema@.stop_subscription(name text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(name);
BEGIN
	UPDATE @extschema@.subscriptions x SET enabled = false WHERE x.id = sub_id;
END
$$;

-- Replay from an offset (every partition of the subscription). Landing rows
-- are upserted, so a replay converges on the same state; the last applied
-- source position is reset so that the replayed changes are not skipped.
CREATE FUNCTION @extschema@.rewind(subscription text, to_offset bigint)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(subscription);
	n bigint;
BEGIN
	IF to_offset IS NULL OR to_offset < 0 THEN
		RAISE EXCEPTION 'offset must be 0 or more'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE @extschema@.subscriptions x SET rewind_time = NULL WHERE x.id = sub_id;
	-- not past a partition's known end (Kafka would restart it from its beginning)
	UPDATE @extschema@.subscription_offsets o
	SET next_offset = least(to_offset, coalesce(o.high_watermark, to_offset)),
		last_commit_lsn = '0/0', last_position = 0
	WHERE o.subscription_id = sub_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	-- partitions replay from before any DDL record they waited at
	DELETE FROM @extschema@.ddl_barrier_arrivals a WHERE a.subscription_id = sub_id;
	RETURN n;
END
$$;

-- Accept a new source for a subscription's partitions: after the source
-- database was replaced on purpose (a new cluster, restored elsewhere), its
-- changes carry another system identifier and are refused until this is
-- called. Forgets each partition's source and last applied position, and
-- which source the landing tables of the subscription's landing schema
-- hold; the next change of each sets them again. Returns the partitions.
CREATE FUNCTION @extschema@.forget_source(subscription text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(subscription);
	n bigint;
BEGIN
	UPDATE @extschema@.subscription_offsets o
	SET source = NULL, system_identifier = NULL,
		last_timeline = 0, last_commit_lsn = '0/0', last_position = 0,
		applied_timeline = 0, applied_commit_lsn = '0/0', applied_position = 0
	WHERE o.subscription_id = sub_id;
	GET DIAGNOSTICS n = ROW_COUNT;
	DELETE FROM @extschema@.landing_tables l
	USING @extschema@.subscriptions x
	WHERE x.id = sub_id AND l.landing_schema OPERATOR(pg_catalog.=) x.landing_schema;
	RETURN n;
END
$$;

-- Replay from the first message at or after a time (resolved by the worker
-- with the broker's time index).
CREATE FUNCTION @extschema@.rewind(subscription text, to_time timestamptz)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub_id integer := @extschema@._reconfigure(subscription);
BEGIN
	IF to_time IS NULL OR NOT isfinite(to_time) THEN
		RAISE EXCEPTION 'rewind time must be a finite timestamp'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	UPDATE @extschema@.subscriptions x SET rewind_time = to_time WHERE x.id = sub_id;
	DELETE FROM @extschema@.ddl_barrier_arrivals a WHERE a.subscription_id = sub_id;
END
$$;

CREATE FUNCTION @extschema@._apply_dead_letter(id bigint, force boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'walstar_apply_dead_letter'
LANGUAGE C STRICT;

-- Apply a dead letter now (e.g. after fixing the landing table); true and
-- the letter is gone when it applied, false and its error updated if not.
-- Refused (an error) when its partition has applied a newer change since,
-- which may be a newer version of the letter's row, unless force.
CREATE FUNCTION @extschema@.retry_dead_letter(id bigint, force boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	err text;
BEGIN
	IF NOT EXISTS (SELECT FROM @extschema@.dead_letters d WHERE d.id = $1) THEN
		RAISE EXCEPTION 'dead letter % does not exist', $1
			USING ERRCODE = 'undefined_object';
	END IF;
	PERFORM @extschema@._check_manager((SELECT d.subscription FROM @extschema@.dead_letters d WHERE d.id = $1));
	err := @extschema@._apply_dead_letter($1, coalesce(force, false));
	IF err IS NULL THEN
		DELETE FROM @extschema@.dead_letters d WHERE d.id = $1;
		RETURN true;
	END IF;
	UPDATE @extschema@.dead_letters d
	SET error = err, retries = d.retries + 1
	WHERE d.id = $1;
	RETURN false;
END
$$;

CREATE FUNCTION @extschema@.discard_dead_letter(id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	sub text := (SELECT d.subscription FROM @extschema@.dead_letters d WHERE d.id = $1);
BEGIN
	IF sub IS NULL THEN
		RETURN false;
	END IF;
	PERFORM @extschema@._check_manager(sub);
	DELETE FROM @extschema@.dead_letters d WHERE d.id = $1;
	RETURN true;
END
$$;

CREATE FUNCTION @extschema@.discard_dead_letters(subscription text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	n bigint;
BEGIN
	PERFORM @extschema@._check_manager(subscription);
	DELETE FROM @extschema@.dead_letters d WHERE d.subscription = $1;
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN n;
END
$$;

-- Per subscription and partition: progress, lag and the worker's state.
CREATE VIEW @extschema@.subscription_status AS
SELECT s.name AS subscription,
	o.topic,
	o.partition,
	o.next_offset - 1 AS offset_applied,
	o.high_watermark,
	CASE WHEN o.high_watermark IS NOT NULL
		THEN greatest(o.high_watermark - o.next_offset, 0) END AS lag_messages,
	-- behind: the age of what was applied last (a change or a heartbeat);
	-- caught up: 0 without heartbeats, else the age of the newest source
	-- time known complete here, so a stalled pipeline ages
	CASE WHEN o.topic IS NULL THEN NULL
		WHEN (o.high_watermark > o.next_offset OR o.last_heartbeat_time IS NOT NULL)
			AND coalesce(o.last_commit_time, o.last_heartbeat_time) IS NOT NULL
		THEN greatest(extract(epoch FROM now() -
			greatest(o.last_commit_time, o.last_heartbeat_time)), 0)
		ELSE 0 END AS lag_seconds,
	o.last_commit_time AS last_commit_time_applied,
	o.applied_messages,
	o.messages_per_second,
	o.source,
	o.system_identifier,
	CASE
		WHEN w.pid IS NOT NULL AND EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
			WHERE a.pid = w.pid AND a.backend_type = 'walstar apply') THEN w.state
		WHEN s.enabled THEN 'not running'
		ELSE coalesce(nullif(w.state, 'running'), 'stopped') END AS worker_state,
	w.last_error,
	w.last_error_time,
	s.enabled,
	s.landing_schema,
	w.worker,
	CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_stat_activity a
		WHERE a.pid = w.pid AND a.backend_type = 'walstar apply') THEN w.pid END AS worker_pid,
	o.last_heartbeat_time AS last_heartbeat,
	-- nothing to apply, the partition's last message a heartbeat (its
	-- (timeline, lsn) after the last change's), and that heartbeat recent:
	-- within three heartbeat gaps (10 s assumed before two were seen) and a
	-- second
	coalesce(o.next_offset >= o.high_watermark
		AND @extschema@._position_cmp(coalesce(o.last_heartbeat_timeline, 0),
			o.last_heartbeat_lsn, 0, o.last_timeline, o.last_commit_lsn, 0) > 0
		AND now() - o.last_heartbeat_time <
			pg_catalog.make_interval(secs => 3 * coalesce(o.heartbeat_gap, 10) + 1),
		false) AS source_idle,
	o.last_timeline AS timeline
FROM @extschema@.subscriptions s
LEFT JOIN @extschema@.subscription_offsets o ON o.subscription_id = s.id
LEFT JOIN @extschema@.subscription_workers w ON w.subscription_id = s.id
	AND w.worker = coalesce(@extschema@._partition_worker(o.topic, o.partition, s.workers), 0);

-- Landing tables that models read (model_source.c): the apply worker
-- applies them with the final state per key in one round, whatever their
-- triggers; a model that needs every version of the rows (an SCD2
-- dimension) has them written to the table's version history, one INSERT
-- per table batch, which its statement-level trigger consumes as a set.
CREATE TABLE @extschema@.model_sources (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	model text NOT NULL,			/* who registered it */
	keep_versions boolean NOT NULL,	/* the model reads the version history */
	registered_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (landing_schema, landing_table, model)
);

-- The version history of a landing table, while a model reads it (it is the
-- truth models rebuild and verify from).
-- Histories live in schema walstar_versions, named <schema>__<table> (cut
-- to 63 bytes), each owned by its landing table's owner.
CREATE SCHEMA walstar_versions;
COMMENT ON SCHEMA walstar_versions IS 'version histories of landing tables that models read (walstar.register_model_source)';
CREATE TABLE @extschema@.version_histories (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	history_table name NOT NULL,
	PRIMARY KEY (landing_schema, landing_table),
	UNIQUE (history_table)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.model_sources', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.version_histories', '');

-- Whether this backend is the apply worker applying that landing table with
-- its versions already written (record_versions then steps aside).
CREATE FUNCTION @extschema@._applying_versions(landing regclass)
RETURNS boolean
AS 'MODULE_PATHNAME', 'walstar_applying_versions'
LANGUAGE C STABLE STRICT;

/*
 * Writes to a landing table by anyone but the apply worker (a rebuild from
 * the sources, a test, a repair) reach its version history through these
 * statement-level triggers; TG_ARGV[0] names the history, in schema
 * walstar_versions.  Not SECURITY DEFINER: the writer writes the history too (the
 * landing table's owner owns both).
 */
CREATE FUNCTION @extschema@.record_versions()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	h text := pg_catalog.format('walstar_versions.%I', TG_ARGV[0]);
	cols text;
	vals text;
	keymatch text;
BEGIN
	IF @extschema@._applying_versions(TG_RELID) THEN
		RETURN NULL;
	END IF;
	IF TG_OP = 'TRUNCATE' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (op) VALUES (%L)', h, 'T');
		RETURN NULL;
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
		   pg_catalog.string_agg('n.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
	INTO cols, vals
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid OPERATOR(pg_catalog.=) TG_RELID AND a.attnum OPERATOR(pg_catalog.>) 0
	  AND NOT a.attisdropped
	  AND EXISTS (SELECT FROM pg_catalog.pg_attribute b
				  WHERE b.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(h)
					AND b.attname OPERATOR(pg_catalog.=) a.attname AND NOT b.attisdropped);
	IF TG_OP = 'INSERT' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (op, %s) SELECT %L, %s FROM new_rows n',
								  h, cols, 'I', vals);
	ELSIF TG_OP = 'DELETE' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (op, %s) SELECT %L, %s FROM old_rows n',
								  h, cols, 'D', vals);
	ELSE
		-- a row whose key changed: its old key goes first
		SELECT pg_catalog.string_agg(pg_catalog.format('o.%1$I IS NOT DISTINCT FROM n.%1$I', a.attname), ' AND ')
		INTO keymatch
		FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
			AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey)
		WHERE i.indrelid OPERATOR(pg_catalog.=) TG_RELID AND i.indisprimary;
		EXECUTE pg_catalog.format('INSERT INTO %s (op, %s) SELECT %L, %s FROM old_rows n'
								  ' WHERE NOT EXISTS (SELECT FROM new_rows o WHERE %s)',
								  h, cols, 'D', vals, coalesce(keymatch, 'false'));
		EXECUTE pg_catalog.format('INSERT INTO %s (op, %s) SELECT %L, %s FROM new_rows n',
								  h, cols, 'U', vals);
	END IF;
	RETURN NULL;
END
$$;

/*
 * A model registers a landing table it reads (the caller must own it, or be
 * a member of its owner): from then on the apply worker applies it in one
 * round per batch.  keep_versions: the model also reads its version history
 * walstar_versions.<schema>__<table> (created, owned by the landing table's
 * owner and filled with the current rows as version 'R' the first time, or after a time no
 * model kept it: then with deletes of the keys gone meanwhile).  Returns
 * the history, or NULL.  SECURITY DEFINER to create the history in schema
 * walstar_versions (the owner gets USAGE on it) and the triggers; what it
 * creates is fixed here, named by a fixed rule and owned by that owner.
 */
CREATE FUNCTION @extschema@.register_model_source(model text, landing_schema name,
	landing_table name, keep_versions boolean DEFAULT false)
RETURNS regclass
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	caller oid := @extschema@._caller();
	rel regclass := pg_catalog.to_regclass(pg_catalog.format('%I.%I', landing_schema, landing_table));
	owner oid;
	hist name;
	hrel regclass;
	kept boolean;
	keys text;
	cols text;
	defs text;
	op text;
BEGIN
	IF coalesce(model, '') = '' THEN
		RAISE EXCEPTION 'a model source needs the name of its model'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF rel IS NULL OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = rel) <> 'r' THEN
		RAISE EXCEPTION 'landing table %.% does not exist', pg_catalog.quote_ident(landing_schema),
			pg_catalog.quote_ident(landing_table)
			USING ERRCODE = 'undefined_table';
	END IF;
	owner := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = rel);
	IF NOT pg_catalog.pg_has_role(caller, owner, 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	kept := EXISTS (SELECT FROM @extschema@.model_sources s
					WHERE s.landing_schema = landing_schema AND s.landing_table = landing_table
					  AND s.keep_versions);
	INSERT INTO @extschema@.model_sources AS s (landing_schema, landing_table, model, keep_versions)
	VALUES (landing_schema, landing_table, model, keep_versions)
	ON CONFLICT ON CONSTRAINT model_sources_pkey
		DO UPDATE SET keep_versions = excluded.keep_versions, registered_at = pg_catalog.now();
	IF NOT keep_versions OR kept THEN
		RETURN (SELECT pg_catalog.to_regclass(pg_catalog.format('walstar_versions.%I', v.history_table))
				FROM @extschema@.version_histories v
				WHERE v.landing_schema = landing_schema AND v.landing_table = landing_table AND kept);
	END IF;

	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY k.n)
	INTO keys
	FROM pg_catalog.pg_index i,
		 unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n),
		 pg_catalog.pg_attribute a
	WHERE i.indrelid = rel AND i.indisprimary AND a.attrelid = rel AND a.attnum = k.attnum;
	IF keys IS NULL THEN
		RAISE EXCEPTION 'cannot keep the version history of %: it has no primary key', rel
			USING ERRCODE = 'invalid_table_definition';
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
		   pg_catalog.string_agg(pg_catalog.format('%I %s', a.attname,
								 pg_catalog.format_type(a.atttypid, a.atttypmod)), ', ' ORDER BY a.attnum)
	INTO cols, defs
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;

	hist := (SELECT v.history_table FROM @extschema@.version_histories v
			 WHERE v.landing_schema = landing_schema AND v.landing_table = landing_table);
	IF hist IS NOT NULL THEN
		hrel := pg_catalog.to_regclass(pg_catalog.format('walstar_versions.%I', hist));
	END IF;
	IF hist IS NOT NULL AND hrel IS NULL THEN
		DELETE FROM @extschema@.version_histories v
		WHERE v.landing_schema = landing_schema AND v.landing_table = landing_table;
		hist := NULL;
	END IF;
	IF hist IS NULL THEN
		hist := (landing_schema || '__' || landing_table)::name;	/* cut to 63 bytes */
		IF pg_catalog.to_regclass(pg_catalog.format('walstar_versions.%I', hist)) IS NOT NULL THEN
			RAISE EXCEPTION 'cannot keep the version history of %: walstar_versions.% exists', rel,
				pg_catalog.quote_ident(hist)
				USING ERRCODE = 'duplicate_table';
		END IF;
		EXECUTE pg_catalog.format('CREATE TABLE walstar_versions.%I (version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,'
			' commit_lsn pg_catalog.pg_lsn, "position" bigint,'
			' op "char" NOT NULL CHECK (op IN (''I'', ''U'', ''D'', ''R'', ''T'')), %s)',
			hist, defs);
		EXECUTE pg_catalog.format('CREATE INDEX ON walstar_versions.%I (%s, version)', hist, keys);
		EXECUTE pg_catalog.format('ALTER TABLE walstar_versions.%I OWNER TO %I', hist,
								  pg_catalog.pg_get_userbyid(owner));
		EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA walstar_versions TO %I',
								  pg_catalog.pg_get_userbyid(owner));
		EXECUTE pg_catalog.format('COMMENT ON TABLE walstar_versions.%I IS %L', hist,
			pg_catalog.format('every version of the rows of %s, in order (version): written by walstar''s apply worker and by walstar.record_versions()', rel));
		INSERT INTO @extschema@.version_histories VALUES (landing_schema, landing_table, hist);
	ELSE
		-- not recorded meanwhile: the keys gone since, then every row as it is
		EXECUTE pg_catalog.format('INSERT INTO walstar_versions.%1$I (op, %2$s)'
			' SELECT %3$L, %2$s FROM (SELECT DISTINCT ON (%2$s) %2$s, op FROM walstar_versions.%1$I'
			'  WHERE version > (SELECT coalesce(max(version), 0) FROM walstar_versions.%1$I WHERE op = %4$L)'
			'  ORDER BY %2$s, version DESC) AS h'
			' WHERE op <> %3$L AND NOT EXISTS (SELECT FROM %5$s l WHERE (%6$s) IS NOT DISTINCT FROM (%7$s))',
			hist, keys, 'D', 'T', rel,
			(SELECT pg_catalog.string_agg('l.' || x, ', ') FROM pg_catalog.regexp_split_to_table(keys, ', ') AS x),
			(SELECT pg_catalog.string_agg('h.' || x, ', ') FROM pg_catalog.regexp_split_to_table(keys, ', ') AS x));
	END IF;
	EXECUTE pg_catalog.format('INSERT INTO walstar_versions.%I (op, %s) SELECT %L, %s FROM %s ORDER BY %s',
							  hist, cols, 'R', cols, rel, keys);

	FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate']
	LOOP
		EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER %s ON %s %s'
			' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.record_versions(%L)',
			'walstar_versions_' || op, pg_catalog.upper(op), rel,
			CASE op WHEN 'insert' THEN 'REFERENCING NEW TABLE AS new_rows'
					WHEN 'update' THEN 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
					WHEN 'delete' THEN 'REFERENCING OLD TABLE AS old_rows'
					ELSE '' END,
			hist);
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', rel, 'walstar_versions_' || op);
	END LOOP;
	RETURN pg_catalog.to_regclass(pg_catalog.format('walstar_versions.%I', hist));
END
$$;

-- The model no longer reads the landing table.  When no model keeps its
-- versions any more, they stop being recorded and the history goes (a model
-- registered again later starts one from the rows then).
CREATE FUNCTION @extschema@.unregister_model_source(model text, landing_schema name,
	landing_table name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	rel regclass := pg_catalog.to_regclass(pg_catalog.format('%I.%I', landing_schema, landing_table));
	hist name;
	hrel regclass;
	howner oid;
	trig name;
BEGIN
	IF rel IS NOT NULL AND NOT pg_catalog.pg_has_role(@extschema@._caller(),
			(SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = rel), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table %', rel
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	DELETE FROM @extschema@.model_sources s
	WHERE s.landing_schema = landing_schema AND s.landing_table = landing_table AND s.model = model;
	IF EXISTS (SELECT FROM @extschema@.model_sources s
			   WHERE s.landing_schema = landing_schema AND s.landing_table = landing_table
				 AND s.keep_versions) THEN
		RETURN;
	END IF;
	IF rel IS NOT NULL THEN
		FOR trig IN SELECT t.tgname FROM pg_catalog.pg_trigger t
					WHERE t.tgrelid = rel AND t.tgname LIKE 'walstar\_versions\_%'
		LOOP
			EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trig, rel);
		END LOOP;
	END IF;
	DELETE FROM @extschema@.version_histories v
	WHERE v.landing_schema = landing_schema AND v.landing_table = landing_table
	RETURNING v.history_table INTO hist;
	hrel := pg_catalog.to_regclass(pg_catalog.format('walstar_versions.%I', coalesce(hist, '')));
	IF hrel IS NOT NULL THEN
		howner := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = hrel);
		EXECUTE pg_catalog.format('DROP TABLE %s', hrel);
		IF NOT EXISTS (SELECT FROM pg_catalog.pg_class c
					   WHERE c.relnamespace = 'walstar_versions'::pg_catalog.regnamespace
						 AND c.relowner = howner) THEN
			EXECUTE pg_catalog.format('REVOKE USAGE ON SCHEMA walstar_versions FROM %I',
									  pg_catalog.pg_get_userbyid(howner));
		END IF;
	END IF;
END
$$;

-- Privileges: nothing for PUBLIC; the admin role configures, the reader
-- role reads the status.
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.decode(bytea) TO walstar_admin, walstar_reader;
-- called by subscription_status, with its reader's rights
GRANT EXECUTE ON FUNCTION @extschema@._partition_worker(text, integer, integer),
	@extschema@._position_cmp(bigint, pg_lsn, bigint, bigint, pg_lsn, bigint)
	TO walstar_admin, walstar_reader;
GRANT SELECT ON @extschema@.subscription_status TO walstar_admin, walstar_reader;
GRANT SELECT ON @extschema@.subscription_offsets, @extschema@.subscription_workers,
	@extschema@.dead_letters, @extschema@.landing_tables,
	@extschema@.ddl_barrier_arrivals TO walstar_admin;
GRANT SELECT (id, name, brokers, topics, topic_pattern, landing_schema, batch_size,
	batch_time, error_policy, enabled, rewind_time, config_version, created_at, owner,
	dropped_columns, workers)
	ON @extschema@.subscriptions TO walstar_admin;
GRANT EXECUTE ON FUNCTION
	@extschema@.kafka_properties(text[]),
	@extschema@.create_subscription(text, text, text[], text, jsonb, name, integer, interval, text, boolean, text, integer),
	@extschema@.alter_subscription(text, text, text[], text, jsonb, name, integer, interval, text, text, integer),
	@extschema@.drop_subscription(text, boolean),
	@extschema@.start_subscription(text),
	@extschema@.stop_subscription(text),
	@extschema@.start_worker(text),
	@extschema@.launcher_running(),
	@extschema@.rewind(text, bigint),
	@extschema@.rewind(text, timestamptz),
	@extschema@.forget_source(text),
	@extschema@.retry_dead_letter(bigint, boolean),
	@extschema@.discard_dead_letter(bigint),
	@extschema@.discard_dead_letters(text),
	@extschema@.register_model_source(text, name, name, boolean),
	@extschema@.unregister_model_source(text, name, name)
	TO walstar_admin;
-- record_versions runs as whoever writes a model's landing table, and only
-- asks about its own backend.
GRANT EXECUTE ON FUNCTION @extschema@._applying_versions(regclass) TO PUBLIC;

-- Chunked copies of keyed landing tables (copy_epoch.c, sink/README.md
-- "Initial snapshot"): the newest epoch per table, the partitions whose
-- SNAPSHOT_BEGIN and SNAPSHOT_END were applied, when the last one was and how many rows the
-- source no longer had it deleted then.
CREATE TABLE @extschema@.copy_epochs (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	epoch bytea NOT NULL,
	begin_lsn pg_lsn NOT NULL,
	partitions integer NOT NULL,
	begun_partitions integer[] NOT NULL DEFAULT '{}',
	done_partitions integer[] NOT NULL DEFAULT '{}',
	completed_at timestamptz,
	deleted_rows bigint,
	PRIMARY KEY (landing_schema, landing_table)
);
-- The keys written to a landing table while its epoch is open: the rows
-- its completion keeps.
CREATE TABLE @extschema@.copy_epoch_keys (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	key text[] NOT NULL,
	epoch bytea NOT NULL,		-- a worker may still keep an older epoch's keys
	PRIMARY KEY (landing_schema, landing_table, epoch, key)
);
GRANT SELECT ON @extschema@.copy_epochs TO walstar_admin;

-- Old rows stashed for key changes across partitions (moved_row.c,
-- README.md "Limits"): a key-changing UPDATE that left TOASTed values
-- unchanged takes them from the old row as the old key's partition deleted
-- it (a DELETE marked old_row_stashed, at the UPDATE's position), and
-- removes the stash in the transaction that applies it. old_values NULL:
-- the landing table had no row under the old key.
CREATE TABLE @extschema@.moved_rows (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	timeline bigint NOT NULL,
	commit_lsn pg_lsn NOT NULL,
	position bigint NOT NULL,
	column_names text[] NOT NULL,
	old_values text[],
	stashed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (landing_schema, landing_table, timeline, commit_lsn, position)
);
GRANT SELECT ON @extschema@.moved_rows TO walstar_admin;
