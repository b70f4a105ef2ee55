/* walstar--0.1.sql: the walstar extension, version 0.1, as released: never
 * edited again (but for this comment). Installations of 0.1 update with
 * walstar--0.1--0.2.sql, and a fresh install of 0.2 runs both. */

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
	PRIMARY KEY (landing_schema, landing_table)
);

-- What each subscription's worker is doing; written by the worker outside
-- the apply transactions.
CREATE TABLE @extschema@.subscription_workers (
	subscription_id integer PRIMARY KEY
		REFERENCES @extschema@.subscriptions ON DELETE CASCADE,
	pid integer,
	state text NOT NULL,
	last_error text,
	last_error_time timestamptz,
	started_at timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now()
);

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
	dropped_columns text DEFAULT 'keep')
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
	PERFORM @extschema@._check_subscription(s);
	s.owner := @extschema@._caller();
	PERFORM @extschema@._check_owner(s.owner, s.landing_schema);
	IF EXISTS (SELECT FROM @extschema@.subscriptions x WHERE x.name = s.name) THEN
		RAISE EXCEPTION 'subscription "%" already exists', s.name
			USING ERRCODE = 'duplicate_object';
	END IF;
	INSERT INTO @extschema@.subscriptions AS x (name, brokers, topics, topic_pattern,
		properties, landing_schema, batch_size, batch_time, error_policy, owner,
		dropped_columns)
	VALUES (s.name, s.brokers, s.topics, s.topic_pattern, s.properties,
		s.landing_schema, s.batch_size, s.batch_time, s.error_policy, s.owner,
		s.dropped_columns)
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
	dropped_columns text DEFAULT NULL)
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
	PERFORM @extschema@._check_subscription(s);
	PERFORM @extschema@._check_owner(s.owner, s.landing_schema);
	UPDATE @extschema@.subscriptions x
	SET brokers = s.brokers, topics = s.topics, topic_pattern = s.topic_pattern,
		properties = s.properties, landing_schema = s.landing_schema,
		batch_size = s.batch_size, batch_time = s.batch_time,
		error_policy = s.error_policy, dropped_columns = s.dropped_columns
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
	'start the apply worker of an enabled subscription now (without shared_preload_libraries); returns its pid';

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
		last_commit_lsn = '0/0', last_position = 0,
		applied_commit_lsn = '0/0', applied_position = 0
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
	CASE WHEN o.topic IS NULL THEN NULL
		WHEN o.high_watermark > o.next_offset AND o.last_commit_time IS NOT NULL
		THEN extract(epoch FROM now() - o.last_commit_time)
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
	s.landing_schema
FROM @extschema@.subscriptions s
LEFT JOIN @extschema@.subscription_offsets o ON o.subscription_id = s.id
LEFT JOIN @extschema@.subscription_workers w ON w.subscription_id = s.id;

-- Privileges: nothing for PUBLIC; the admin role configures, the reader
-- role reads the status.
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA @extschema@ FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.decode(bytea) TO walstar_admin, walstar_reader;
GRANT SELECT ON @extschema@.subscription_status TO walstar_admin, walstar_reader;
GRANT SELECT ON @extschema@.subscription_offsets, @extschema@.subscription_workers,
	@extschema@.dead_letters, @extschema@.landing_tables TO walstar_admin;
GRANT SELECT (id, name, brokers, topics, topic_pattern, landing_schema, batch_size,
	batch_time, error_policy, enabled, rewind_time, config_version, created_at, owner,
	dropped_columns)
	ON @extschema@.subscriptions TO walstar_admin;
GRANT EXECUTE ON FUNCTION
	@extschema@.kafka_properties(text[]),
	@extschema@.create_subscription(text, text, text[], text, jsonb, name, integer, interval, text, boolean, text),
	@extschema@.alter_subscription(text, text, text[], text, jsonb, name, integer, interval, text, text),
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
	@extschema@.discard_dead_letters(text)
	TO walstar_admin;
