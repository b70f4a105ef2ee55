/* walstar--0.1--0.2.sql: walstar 0.2, as what it adds to and changes in 0.1.
 *
 * ALTER EXTENSION walstar UPDATE runs it on a 0.1 installation, and CREATE
 * EXTENSION walstar runs it after walstar--0.1.sql: 0.2 has no install script
 * of its own (as in PostgreSQL's contrib modules), so a fresh and an updated
 * installation run the same SQL and every 0.2 object is written once, here.
 * It must work on a 0.1 installation that holds data:
 * regress/t/091_ext_upgrade.pl updates one that holds a subscription and
 * dead letters, and applies them under 0.2. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION walstar UPDATE" to load this file. \quit

-- Model sources and version histories (model_source.c)
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
		EXECUTE pg_catalog.format('INSERT INTO %s (walstar_op) VALUES (%L)', h, 'T');
		RETURN NULL;
	END IF;
	SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum),
		   pg_catalog.string_agg('n.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
	INTO cols, vals
	FROM pg_catalog.pg_attribute a
	WHERE a.attrelid OPERATOR(pg_catalog.=) TG_RELID AND a.attnum OPERATOR(pg_catalog.>) 0
	  AND NOT a.attisdropped
	  AND a.attname OPERATOR(pg_catalog.<>) ALL (ARRAY['walstar_version', 'walstar_commit_lsn', 'walstar_position', 'walstar_op']::name[])
	  AND EXISTS (SELECT FROM pg_catalog.pg_attribute b
				  WHERE b.attrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(h)
					AND b.attname OPERATOR(pg_catalog.=) a.attname AND NOT b.attisdropped);
	IF TG_OP = 'INSERT' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (walstar_op, %s) SELECT %L, %s FROM new_rows n',
								  h, cols, 'I', vals);
	ELSIF TG_OP = 'DELETE' THEN
		EXECUTE pg_catalog.format('INSERT INTO %s (walstar_op, %s) SELECT %L, %s FROM old_rows n',
								  h, cols, 'D', vals);
	ELSE
		-- a row whose key changed: its old key goes first
		SELECT pg_catalog.string_agg(pg_catalog.format('o.%1$I IS NOT DISTINCT FROM n.%1$I', a.attname), ' AND ')
		INTO keymatch
		FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid
			AND a.attnum OPERATOR(pg_catalog.=) ANY (i.indkey)
		WHERE i.indrelid OPERATOR(pg_catalog.=) TG_RELID AND i.indisprimary;
		EXECUTE pg_catalog.format('INSERT INTO %s (walstar_op, %s) SELECT %L, %s FROM old_rows n'
								  ' WHERE NOT EXISTS (SELECT FROM new_rows o WHERE %s)',
								  h, cols, 'D', vals, coalesce(keymatch, 'false'));
		EXECUTE pg_catalog.format('INSERT INTO %s (walstar_op, %s) SELECT %L, %s FROM new_rows n',
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
	WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped
	  AND a.attname NOT IN ('walstar_version', 'walstar_commit_lsn', 'walstar_position', 'walstar_op');

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
		EXECUTE pg_catalog.format('CREATE TABLE walstar_versions.%I (walstar_version bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,'
			' walstar_commit_lsn pg_catalog.pg_lsn, walstar_position bigint,'
			' walstar_op "char" NOT NULL CHECK (walstar_op IN (''I'', ''U'', ''D'', ''R'', ''T'')), %s)',
			hist, defs);
		EXECUTE pg_catalog.format('CREATE INDEX ON walstar_versions.%I (%s, walstar_version)', hist, keys);
		EXECUTE pg_catalog.format('ALTER TABLE walstar_versions.%I OWNER TO %I', hist,
								  pg_catalog.pg_get_userbyid(owner));
		EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA walstar_versions TO %I',
								  pg_catalog.pg_get_userbyid(owner));
		EXECUTE pg_catalog.format('COMMENT ON TABLE walstar_versions.%I IS %L', hist,
			pg_catalog.format('every version of the rows of %s, in order (version): written by walstar''s apply worker and by walstar.record_versions()', rel));
		INSERT INTO @extschema@.version_histories VALUES (landing_schema, landing_table, hist);
	ELSE
		-- not recorded meanwhile: the keys gone since, then every row as it is
		EXECUTE pg_catalog.format('INSERT INTO walstar_versions.%1$I (walstar_op, %2$s)'
			' SELECT %3$L, %2$s FROM (SELECT DISTINCT ON (%2$s) %2$s, walstar_op FROM walstar_versions.%1$I'
			'  WHERE walstar_version > (SELECT coalesce(max(walstar_version), 0) FROM walstar_versions.%1$I WHERE walstar_op = %4$L)'
			'  ORDER BY %2$s, walstar_version DESC) AS h'
			' WHERE walstar_op <> %3$L AND NOT EXISTS (SELECT FROM %5$s l WHERE (%6$s) IS NOT DISTINCT FROM (%7$s))',
			hist, keys, 'D', 'T', rel,
			(SELECT pg_catalog.string_agg('l.' || x, ', ') FROM pg_catalog.regexp_split_to_table(keys, ', ') AS x),
			(SELECT pg_catalog.string_agg('h.' || x, ', ') FROM pg_catalog.regexp_split_to_table(keys, ', ') AS x));
	END IF;
	EXECUTE pg_catalog.format('INSERT INTO walstar_versions.%I (walstar_op, %s) SELECT %L, %s FROM %s ORDER BY %s',
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


-- Parallel apply (workers => N): the worker count, one status row per
-- worker, the cross-worker DDL barrier, the partition assignment
ALTER TABLE @extschema@.subscriptions
	ADD COLUMN workers integer NOT NULL DEFAULT 1 CHECK (workers BETWEEN 1 AND 64);
ALTER TABLE @extschema@.subscription_workers DROP CONSTRAINT subscription_workers_pkey;
ALTER TABLE @extschema@.subscription_workers
	ADD COLUMN worker integer NOT NULL DEFAULT 0,
	ADD PRIMARY KEY (subscription_id, worker);
CREATE TABLE @extschema@.ddl_barrier_arrivals (
	subscription_id integer NOT NULL
		REFERENCES @extschema@.subscriptions ON DELETE CASCADE,
	topic text NOT NULL,
	partition integer NOT NULL,
	commit_lsn pg_lsn NOT NULL,
	position bigint NOT NULL,
	PRIMARY KEY (subscription_id, topic, partition)
);

CREATE FUNCTION @extschema@._partition_worker(topic text, partition integer, workers integer)
RETURNS integer
AS 'MODULE_PATHNAME', 'walstar_partition_worker'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

CREATE OR REPLACE FUNCTION @extschema@._check_subscription(s @extschema@.subscriptions)
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

-- create_subscription and alter_subscription take workers: new signatures
DROP FUNCTION @extschema@.create_subscription(text, text, text[], text, jsonb, name, integer, interval, text, boolean, text);
DROP FUNCTION @extschema@.alter_subscription(text, text, text[], text, jsonb, name, integer, interval, text, text);
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

COMMENT ON FUNCTION @extschema@.start_worker(text) IS
	'start the apply workers of an enabled subscription now (without shared_preload_libraries); returns the pid of the first';

CREATE OR REPLACE FUNCTION @extschema@.rewind(subscription text, to_offset bigint)
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

CREATE OR REPLACE FUNCTION @extschema@.rewind(subscription text, to_time timestamptz)
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

-- heartbeats (the sink's HEARTBEAT records), at the end as in 0.2
ALTER TABLE @extschema@.subscription_offsets
	ADD COLUMN last_heartbeat_time timestamptz,
	ADD COLUMN last_heartbeat_lsn pg_lsn,
	ADD COLUMN heartbeat_gap double precision;

-- Source failover: positions and copy epochs carry the source's timeline
ALTER TABLE @extschema@.subscription_offsets
	ADD COLUMN last_timeline bigint NOT NULL DEFAULT 0;
ALTER TABLE @extschema@.landing_tables
	ADD COLUMN copy_timeline bigint NOT NULL DEFAULT 0;

-- the timeline of last_heartbeat_lsn (the sink's, 0: not known), and of
-- the other positions
ALTER TABLE @extschema@.subscription_offsets
	ADD COLUMN last_heartbeat_timeline bigint,
	ADD COLUMN applied_timeline bigint NOT NULL DEFAULT 0;
ALTER TABLE @extschema@.landing_tables
	ADD COLUMN ddl_timeline bigint NOT NULL DEFAULT 0;
ALTER TABLE @extschema@.ddl_barrier_arrivals
	ADD COLUMN timeline bigint NOT NULL DEFAULT 0;

-- forgets the timelines too
CREATE OR REPLACE FUNCTION @extschema@.forget_source(subscription text)
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

-- The order of two stream positions (timeline, commit LSN, position):
-- -1, 0 or 1; timeline 0 (not known) equals any (stream_position.c).
CREATE FUNCTION @extschema@._position_cmp(timeline_a bigint, lsn_a pg_lsn, position_a bigint,
	timeline_b bigint, lsn_b pg_lsn, position_b bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'walstar_position_cmp'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- one row per partition, with the worker that applies it
CREATE OR REPLACE VIEW @extschema@.subscription_status AS
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

-- Privileges (for the objects above; the rest keep what 0.1 gave them)
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
	begin_timeline bigint NOT NULL DEFAULT 0,	-- with begin_lsn, the watermark's position
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
-- the landing table had no row under the old key. dead_letter: the DELETE
-- became that dead letter, so the UPDATE becomes one too (and does not
-- wait for ever); retried in order, the DELETE stashes the row for real.
CREATE TABLE @extschema@.moved_rows (
	landing_schema name NOT NULL,
	landing_table name NOT NULL,
	timeline bigint NOT NULL,
	commit_lsn pg_lsn NOT NULL,
	position bigint NOT NULL,
	column_names text[] NOT NULL,
	old_values text[],
	stashed_at timestamptz NOT NULL DEFAULT now(),
	dead_letter bigint,
	PRIMARY KEY (landing_schema, landing_table, timeline, commit_lsn, position)
);
GRANT SELECT ON @extschema@.moved_rows TO walstar_admin;
-- a dropped subscription takes its stashes with it
CREATE OR REPLACE FUNCTION @extschema@.drop_subscription(name text, if_exists boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	dropped_schema name;
BEGIN
	IF if_exists AND NOT EXISTS (SELECT FROM @extschema@.subscriptions x WHERE x.name = $1) THEN
		RETURN false;
	END IF;
	PERFORM @extschema@._subscription_id($1);
	PERFORM @extschema@._check_manager($1);
	DELETE FROM @extschema@.subscriptions x WHERE x.id = @extschema@._subscription_id($1)
		RETURNING x.landing_schema INTO dropped_schema;
	-- its stashed moved rows go too, unless another subscription lands there
	DELETE FROM @extschema@.moved_rows m WHERE m.landing_schema = dropped_schema
		AND NOT EXISTS (SELECT FROM @extschema@.subscriptions x WHERE x.landing_schema = dropped_schema);
	RETURN true;
END
$$;
-- The model engine (extension/README.md "Writing a model"): a model is one
-- JSON declaration handed to walstar.create_model(), which checks it and
-- generates, in a schema of the model's name, the fact tables, SCD2
-- dimension versions, rollups, metric functions, verify(), rebuild() and
-- freshness(), and the statement-level triggers that keep them in the
-- apply transaction.  The generated code runs with search_path
-- pg_catalog, pg_temp and names every object schema-qualified.

-- A name of the declaration: a lower-case SQL identifier short enough for
-- the names made from it.
CREATE FUNCTION @extschema@._model_name(n text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF n IS NULL OR n !~ '^[a-z][a-z0-9_]{0,39}$' OR n ~ '^p_' OR n IN ('period', 'n', 'found', 'valid_from') THEN
		RAISE EXCEPTION 'model declaration: % must be a lower-case name of at most 40 letters, digits and _ (not p_..., period, n, found or valid_from), got %',
			what, coalesce(pg_catalog.quote_literal(n), 'nothing')
			USING ERRCODE = 'invalid_name';
	END IF;
	RETURN n;
END
$$;

-- An SQL expression of the declaration, parenthesised.  One expression,
-- not a statement: no ';', no comments, balanced parentheses outside
-- string literals (the model's author owns the landing tables and its
-- code runs with their rights; this keeps each expression in its place).
CREATE FUNCTION @extschema@._model_expr(e text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	bare text;
	depth integer := 0;
	ch text;
BEGIN
	IF e IS NULL OR pg_catalog.btrim(e) = '' THEN
		RAISE EXCEPTION 'model declaration: % needs an expression', what
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	bare := pg_catalog.regexp_replace(pg_catalog.regexp_replace(e, '''([^'']|'''')*''', '', 'g'),
									  '"([^"]|"")*"', '', 'g');
	IF bare ~ '[;\\]|--|/\*|\$' THEN
		RAISE EXCEPTION 'model declaration: % must be one SQL expression (no ;, comments or dollar quotes): %',
			what, e USING ERRCODE = 'syntax_error';
	END IF;
	FOREACH ch IN ARRAY pg_catalog.regexp_split_to_array(bare, '')
	LOOP
		depth := depth + CASE ch WHEN '(' THEN 1 WHEN ')' THEN -1 ELSE 0 END;
		IF depth < 0 THEN
			EXIT;
		END IF;
	END LOOP;
	IF depth <> 0 OR bare ~ '[''"]' THEN
		RAISE EXCEPTION 'model declaration: % has unbalanced parentheses or quotes: %', what, e
			USING ERRCODE = 'syntax_error';
	END IF;
	RETURN '(' || e || ')';
END
$$;

-- The type of an expression over a relation (alias given), or a clear
-- error naming the culprit.
CREATE FUNCTION @extschema@._model_type(expr text, rel text, alias text, what text) RETURNS regtype
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	t regtype;
BEGIN
	EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof((SELECT %s FROM %s AS %I LIMIT 0))', expr, rel, alias)
		INTO t;
	RETURN t;
EXCEPTION WHEN others THEN
	RAISE EXCEPTION 'model declaration: %: %', what, SQLERRM USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- The version history walstar keeps of a landing table.
CREATE FUNCTION @extschema@._model_history(landing_schema name, landing_table name) RETURNS name
LANGUAGE sql STABLE
BEGIN ATOMIC
	SELECT v.history_table FROM @extschema@.version_histories v
	WHERE v.landing_schema = _model_history.landing_schema AND v.landing_table = _model_history.landing_table;
END;

-- Whether an SCD2 dimension of the declaration reads landing table t: the
-- table's registration keeps its versions then, whichever part of the
-- model registers it (a later registration replaces an earlier one).
CREATE FUNCTION @extschema@._model_keeps_versions(declaration jsonb, t text) RETURNS boolean
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT EXISTS (SELECT FROM jsonb_each(coalesce(declaration->'dimensions', '{}')) AS x
				   WHERE x.value->>'table' = t AND x.value->>'scd' = '2');
END;

-- A column type for values of type t (a bare character would be char(1)).
CREATE FUNCTION @extschema@._model_coltype(t regtype) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE t WHEN 'character'::regtype THEN 'text' WHEN 'bit'::regtype THEN 'bit varying'
		ELSE pg_catalog.format_type(t, NULL) END;
END;

CREATE FUNCTION @extschema@._model_numeric(t regtype) RETURNS boolean
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype, 'numeric'::regtype,
				 'real'::regtype, 'double precision'::regtype, 'interval'::regtype);
END;

-- The second level of a value histogram: bucket boundaries for width_bucket(),
-- 100 a decade (3 significant digits) over both signs, and 0: an array
-- literal of intervals for an interval histogram, else of double precision,
-- compared with the value cast to double precision. Either way the bucket is
-- a monotone function of the value (the cast rounds, but never reorders), so
-- a later bucket holds only larger values and a bucket is a range of them (a
-- bucket computed in floating point, such as a rounded logarithm, is not
-- provably monotone). Fixed-size elements: width_bucket() bisects them.
-- Values past the last boundary share the last bucket. NULL for a type that
-- is not numeric: no percentile, no buckets.
CREATE FUNCTION @extschema@._model_bucket_bounds(t regtype) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	ints boolean := t IN ('smallint'::regtype, 'integer'::regtype, 'bigint'::regtype);
	lo integer := CASE WHEN t = 'interval'::regtype THEN -6 WHEN ints THEN 0 ELSE -2 END;	-- seconds for intervals
	hi integer := CASE t WHEN 'smallint'::regtype THEN 3 WHEN 'integer'::regtype THEN 8 WHEN 'interval'::regtype THEN 10 ELSE 12 END;
	b numeric[];
BEGIN
	IF NOT @extschema@._model_numeric(t) THEN
		RETURN NULL;
	END IF;
	b := ARRAY(SELECT DISTINCT y.x FROM (
			SELECT s.s * CASE WHEN ints THEN pg_catalog.round(mm.m * 10::numeric ^ e.e) ELSE mm.m * 10::numeric ^ e.e END AS x
			FROM pg_catalog.generate_series(lo, hi) AS e(e),
				 (SELECT pg_catalog.round(10::numeric ^ (k / 100.0), 2) AS m FROM pg_catalog.generate_series(0, 99) AS k) AS mm,
				 (VALUES (1), (-1)) AS s(s)
			UNION ALL SELECT 0) AS y ORDER BY y.x);
	IF t = 'interval'::regtype THEN
		RETURN (SELECT pg_catalog.array_agg(pg_catalog.make_interval(secs => x.x::float8) ORDER BY x.x)::text
				FROM pg_catalog.unnest(b) AS x(x));
	END IF;
	RETURN b::float8[]::text;
END
$$;

-- Whether a rollup keeps the second level (bucket counts) of a value
-- histogram (its entry in the engine's list: "pct" when a percentile reads
-- it, "bucket" its bucket expression, '0' for a type that is not numeric):
-- for a numeric histogram that serves a percentile, where the rollup says
-- "buckets", else for the coarse grains (all, year) without reference keys
-- among its "by" columns, whose rows hold many values each and are few.
CREATE FUNCTION @extschema@._model_bucketed(rollup jsonb, hist jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT coalesce((hist->>'pct')::boolean, false) AND hist->>'bucket' <> '0'
		AND coalesce((rollup->>'buckets')::boolean,
			coalesce(rollup->>'grain', 'day') IN ('all', 'year')
			AND NOT EXISTS (SELECT FROM jsonb_array_elements_text(coalesce(rollup->'by', '[]')) AS b(c) WHERE b.c ~ '_key$'));
END;

-- Whether a rollup keeps value histograms (count_distinct and percentile
-- measures): "histograms" in its declaration, true by default. Without, those
-- measures read the next usable rollup that keeps them, else the facts.
CREATE FUNCTION @extschema@._model_histograms(rollup jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT coalesce((rollup->>'histograms')::boolean, true);
END;

-- Whether a rollup row keeps the value of a percentile measure (column
-- <measure>_v), refreshed in the apply transaction for the rows a batch
-- touched: where the rollup keeps the histogram without bucket counts,
-- whose rows are many and small (by reference keys, fine grains), unless
-- it says "keep_percentiles": false; read, they are a column, not a
-- histogram read per row. The few large rows of a bucketed rollup compute
-- it when read.
CREATE FUNCTION @extschema@._model_kept(rollup jsonb, hist jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT @extschema@._model_histograms(rollup) AND NOT @extschema@._model_bucketed(rollup, hist)
		AND coalesce((rollup->>'keep_percentiles')::boolean, true);
END;

-- How the rows r of a rollup are matched to the groups g a batch changed:
-- groups without a NULL key (nullkeys false) by equality on every column of
-- the rollup's unique index, the others (few) by null-safe equality, which an
-- index serves for its first column only (IS NOT DISTINCT FROM: not at all).
CREATE FUNCTION @extschema@._model_gmatch(grain text, bys text[], nullkeys boolean) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE WHEN NOT nullkeys THEN
		CASE WHEN grain = 'all' THEN 'r.period IS NULL' ELSE 'r.period = g.period' END ||
		coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(' AND r.%1$I = g.%1$I', x.b), '' ORDER BY x.n)
				  FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), '')
	ELSE
		'(' || CASE WHEN grain = 'all' THEN 'false' ELSE 'g.period IS NULL' END ||
		coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(' OR g.%I IS NULL', x.b), '' ORDER BY x.n)
				  FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), '') ||
		') AND (r.period = g.period OR r.period IS NULL AND g.period IS NULL)' ||
		coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(
			' AND (r.%1$I = g.%1$I OR r.%1$I IS NULL AND g.%1$I IS NULL)', x.b), '' ORDER BY x.n)
				  FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), '')
	END;
END;

-- How the rows (alias h) of a rollup row's (alias r) value histogram are
-- found: keyed, r has no NULL key; eq, by plain equality on every column of
-- the histogram's unique index (for keyed rows); nullsafe, by null-safe
-- equality, which an index serves for its first column only (IS NOT DISTINCT
-- FROM: not at all). Grain all: period is NULL in every row.
CREATE FUNCTION @extschema@._model_hconds(grain text, bys text[], OUT keyed text, OUT eq text, OUT nullsafe text)
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE grain WHEN 'all' THEN 'true' ELSE 'r.period IS NOT NULL' END
			|| coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(' AND r.%I IS NOT NULL', x.b), '' ORDER BY x.n)
						 FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), ''),
		   CASE grain WHEN 'all' THEN 'h.period IS NULL' ELSE 'h.period = r.period' END
			|| coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(' AND h.%1$I = r.%1$I', x.b), '' ORDER BY x.n)
						 FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), ''),
		   CASE grain WHEN 'all' THEN 'h.period IS NULL' ELSE '(h.period = r.period OR h.period IS NULL AND r.period IS NULL)' END
			|| coalesce((SELECT pg_catalog.string_agg(pg_catalog.format(' AND (h.%1$I = r.%1$I OR h.%1$I IS NULL AND r.%1$I IS NULL)', x.b), '' ORDER BY x.n)
						 FROM pg_catalog.unnest(bys) WITH ORDINALITY AS x(b, n)), '');
END;

-- percentile_cont(frac) over the (_value, _count) rows of value histograms,
-- as one scalar subquery: the values of 0-based ranks floor and ceil of
-- frac * (n - 1), and lo + (hi - lo) * (rank - floor) as percentile_cont
-- computes it. v_from: a FROM list whose value rows are h (with the WHERE
-- clause that picks them). With b_from (the same for the histogram's bucket
-- counts), n and the ranks come from the bucket counts, and only the values
-- of the one or two buckets holding those ranks are read: v_from then picks
-- h._bucket BETWEEN (SELECT w.b1 FROM w) AND (SELECT w.b2 FROM w) (scalar
-- subqueries: computed first, so that they bound the index scans). vcast:
-- the cast of a value before interpolation ('::float8', or '' for
-- intervals). one_row: v_from holds one rollup row's values (each value
-- once). Counts are summed as double precision: exact below 2^53, and far
-- cheaper than the numeric sum() of bigint.
CREATE FUNCTION @extschema@._model_percentile(b_from text, v_from text, frac text, vcast text, one_row boolean DEFAULT false)
RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT CASE WHEN b_from IS NULL AND one_row THEN
		-- one rollup row's values (distinct already): one scan in the order
		-- of the histogram's index, no grouping
		'(SELECT CASE WHEN pg_catalog.floor(k.rk) = pg_catalog.ceil(k.rk) THEN k.lo'
		'  ELSE k.lo + (k.hi - k.lo) * (k.rk - pg_catalog.floor(k.rk)) END'
		' FROM (SELECT pg_catalog.min(s.v) FILTER (WHERE s.upto > pg_catalog.floor(s.rk)) AS lo,'
		'  pg_catalog.min(s.v) FILTER (WHERE s.upto > pg_catalog.ceil(s.rk)) AS hi, pg_catalog.min(s.rk) AS rk'
		'  FROM (SELECT h._value' || vcast || ' AS v, pg_catalog.sum(h._count::float8) OVER (ORDER BY h._bucket, h._value) AS upto,'
		'   ' || frac || '::float8 * (pg_catalog.sum(h._count::float8) OVER () - 1) AS rk FROM ' || v_from || ') AS s) AS k)'
	ELSE '(WITH ' || CASE WHEN b_from IS NULL THEN
		'v AS (SELECT h._value AS v, pg_catalog.sum(h._count::float8) AS c FROM ' || v_from || ' GROUP BY h._value),'
		' w AS (SELECT 0::float8 AS base, ' || frac || '::float8 * (pg_catalog.sum(v.c) - 1) AS rk FROM v),'
	ELSE
		'b AS (SELECT h._bucket AS bk, pg_catalog.sum(h._count::float8) AS c FROM ' || b_from || ' GROUP BY h._bucket),'
		' n AS (SELECT ' || frac || '::float8 * (pg_catalog.sum(b.c) - 1) AS rk FROM b),'
		' s AS (SELECT b.bk, b.c, pg_catalog.sum(b.c) OVER (ORDER BY b.bk) AS upto FROM b),'
		' w AS (SELECT pg_catalog.min(s.bk) AS b1, pg_catalog.max(s.bk) AS b2, pg_catalog.min(s.upto - s.c) AS base,'
		'  (SELECT n.rk FROM n) AS rk FROM s WHERE s.upto > pg_catalog.floor((SELECT n.rk FROM n))'
		'  AND s.upto - s.c <= pg_catalog.ceil((SELECT n.rk FROM n))),'
		' v AS (SELECT h._value AS v, pg_catalog.sum(h._count::float8) AS c FROM ' || v_from || ' GROUP BY h._value),'
	END ||
		' k AS (SELECT pg_catalog.min(u.v) FILTER (WHERE u.upto > pg_catalog.floor((SELECT w.rk FROM w))) AS lo,'
		'  pg_catalog.min(u.v) FILTER (WHERE u.upto > pg_catalog.ceil((SELECT w.rk FROM w))) AS hi'
		'  FROM (SELECT v.v' || vcast || ' AS v, (SELECT w.base FROM w) + pg_catalog.sum(v.c) OVER (ORDER BY v.v) AS upto FROM v) AS u)'
		' SELECT CASE WHEN pg_catalog.floor(w.rk) = pg_catalog.ceil(w.rk) THEN k.lo'
		'  ELSE k.lo + (k.hi - k.lo) * (w.rk - pg_catalog.floor(w.rk)) END FROM k, w)' END;
END;

-- Where percentile_cont(fraction) falls in a value histogram, for each
-- fraction: the positions (1-based) of the values at ranks floor and ceil of
-- fraction * (n - 1) in the counts given in value order, and the part
-- between them (0: one rank). percentile_ranks.c.
CREATE FUNCTION @extschema@._percentile_ranks(counts float8[], fractions float8[]) RETURNS float8[]
AS 'MODULE_PATHNAME', 'walstar_percentile_ranks'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- The kept percentiles (fractions fracs) of one rollup row, as a sub-SELECT
-- of one row for UPDATE .. SET (cols) = (...): the row's histogram rows h of
-- v_from (_value, _bucket, _count) read once into arrays in value order,
-- the ranks from _percentile_ranks(), and lo + (hi - lo) * part as
-- percentile_cont interpolates. vcast: the cast of a value ('::float8', or
-- '' for intervals). NULL values for an empty histogram.
CREATE FUNCTION @extschema@._model_kept_sql(v_from text, fracs text[], vcast text) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT '(SELECT ' || pg_catalog.string_agg(pg_catalog.format(
			'CASE WHEN x.q[%3$s] = 0 THEN a.v[x.q[%1$s]::integer]'
			' ELSE a.v[x.q[%1$s]::integer] + (a.v[x.q[%2$s]::integer] - a.v[x.q[%1$s]::integer]) * x.q[%3$s] END',
			3 * f.n - 2, 3 * f.n - 1, 3 * f.n), ', ' ORDER BY f.n) ||
		' FROM (SELECT pg_catalog.array_agg(h._value' || vcast || ' ORDER BY h._bucket, h._value) AS v,'
		' pg_catalog.array_agg(h._count::float8 ORDER BY h._bucket, h._value) AS c FROM ' || v_from || ') AS a,'
		' LATERAL (SELECT @extschema@._percentile_ranks(a.c, ARRAY[' ||
			pg_catalog.string_agg(f.frac || '::float8', ', ' ORDER BY f.n) || ']) AS q) AS x)'
	FROM pg_catalog.unnest(fracs) WITH ORDINALITY AS f(frac, n);
END;

-- The landing table of a source, checked: it exists, has a one-column
-- primary key, and the caller may act as its owner.  Returns
-- (qualified name, key column, key type, owner).
CREATE FUNCTION @extschema@._model_source(landing_schema name, landing_table text, what text,
	OUT rel text, OUT key_col name, OUT key_type text, OUT owner oid)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r regclass;
BEGIN
	IF landing_table IS NULL THEN
		RAISE EXCEPTION 'model declaration: % needs a "table"', what USING ERRCODE = 'invalid_parameter_value';
	END IF;
	r := pg_catalog.to_regclass(pg_catalog.format('%I.%I', landing_schema, landing_table));
	IF r IS NULL THEN
		RAISE EXCEPTION 'model declaration: %: landing table %.% does not exist', what,
			pg_catalog.quote_ident(landing_schema), pg_catalog.quote_ident(landing_table)
			USING ERRCODE = 'undefined_table';
	END IF;
	owner := (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = r);
	IF NOT pg_catalog.pg_has_role(current_user, owner, 'USAGE') THEN
		RAISE EXCEPTION 'model declaration: %: must be owner of table %', what, r
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) INTO key_col, key_type
	FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a
		ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
	WHERE i.indrelid = r AND i.indisprimary AND i.indnatts = 1;
	IF key_col IS NULL THEN
		RAISE EXCEPTION 'model declaration: %: % needs a primary key of one column', what, r
			USING ERRCODE = 'invalid_table_definition';
	END IF;
	rel := r::text;
END
$$;

/*
 * create_model(declaration): see extension/README.md "Writing a model" for
 * the declaration.  Everything is created in one transaction (an error
 * leaves nothing behind), then built from the landing tables as they are.
 */
CREATE FUNCTION @extschema@.create_model(declaration jsonb) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	m text;				-- model schema, quoted
	mname text;
	lschema name;
	dim record;
	fact record;
	kv record;
	rec record;
	src record;
	d jsonb;
	f jsonb;
	ms jsonb;
	names text[];
	cols text;			-- fact table column definitions
	sel text;			-- the fact rows' SELECT list over the landing row s
	joins text;
	inner_sel text;
	minfo jsonb := '{}';		-- measure -> kind, result type, aggregate over facts
	reader_fns text[] := '{}';
	grouped boolean;
	time_ref text;
	ref_order text[];
	ref_types jsonb;			-- ref.attribute -> type
	refkey text;
	asof text;
	rollup_cols jsonb := '{}';	-- rollup -> its table function's columns
	pmatch text;
	rb name;
	rs name;			-- recompute_since
	ffilter text;		-- the fact's filter over the landing row s
	hmin text;			-- a min/max recompute's source: the facts or a value histogram
	rows_sql text;
	facts_info jsonb := '{}';	-- fact -> key, key_type, ftab
	refreshes_all jsonb := '{}';
	fcols text[];		-- fact column names
	rollup_sql text;
	t regtype;
	tt regtype;
	tname text;
	e text;
	ftab text;
	body text;
	refresh text;
	build text;
	verify text := '';
	rebuild text := '';
	owners oid[] := '{}';
	ver text;
	cond text;
	grain text;
	period text;
	step text;
	bys text[];
	rcols text;
	rsel text;
	rupd text;
	rfix text;
	rgroup text;
	tname2 text;
	rverify text;
	params text;
	pargs text;
	branches text;
	agg text;
	fagg text;
	rt text;
	mfilter text;
	mexpr text;
	kind text;
	refreshes jsonb := '{}';	-- dimension -> facts referencing it (code)
	refreshes_since jsonb := '{}';	-- SCD2 dimension -> its facts as of a changed version
	dims_scd jsonb := '{}';
	measure_names text[] := '{}';
	by_cols text[];
	all_by text[];
	g text;
	fn text;
	i integer;
	hists jsonb;		-- per fact: "of" and "filter" of a value histogram -> its number, type
	hkey text;
	rsel_cheap text;	-- a rollup function's select list without the histogram reads
	pcond text;		-- a rollup function's filters on its by columns
	heavy jsonb;		-- those: measure -> its expression over the rollup row r
	rollup_fast jsonb := '{}';	-- rollup -> the rollup function's query without them, and them
	fast_sel text;
	upsert text;
	refresh_h text;		-- a value histogram's and its bucket counts' upserts
	refresh_b text;
	verify_b text;
	bounds text;		-- a numeric histogram's bucket boundaries (literal)
	vfrom text;			-- a percentile's value rows, and its bucket counts
	bfrom text;
	hc record;			-- _model_hconds()
	hcols text;			-- a rollup's period and by column definitions
	gkey text;			-- a rollup's unique key columns: grain all puts period last
	frac text;
	req text[];
	rkept text;			-- a rollup's kept percentiles over the facts d
	kset text;			-- their refresh from the histograms: (cols) = (SELECT ...), ...
	kcols text;			-- those of one histogram, their fractions and value cast
	kfracs text[];
	kcast text;
	orderable jsonb;	-- a rollup's columns and cheap measures: name -> expression over r
	rf jsonb;			-- a ranking's rollup (rollup_fast)
	ord text;			-- a ranking's order
	icols text;			-- its index's columns after the within ones, if it has one
	xq text;			-- its ranked rows
	xqs text[];			-- those without filters and with them
	kept boolean;		-- a rollup function's measure is a kept percentile
BEGIN
	mname := @extschema@._model_name(declaration->>'name', 'the model''s "name"');
	m := pg_catalog.quote_ident(mname);
	lschema := declaration->>'landing_schema';
	IF lschema IS NULL OR pg_catalog.to_regnamespace(pg_catalog.quote_ident(lschema)) IS NULL THEN
		RAISE EXCEPTION 'model declaration: "landing_schema" % does not exist', coalesce(lschema, '(missing)')
			USING ERRCODE = 'invalid_schema_name';
	END IF;
	IF pg_catalog.to_regnamespace(m) IS NOT NULL THEN
		RAISE EXCEPTION 'model %: schema % exists already', mname, m USING ERRCODE = 'duplicate_schema';
	END IF;
	IF jsonb_typeof(declaration->'facts') IS DISTINCT FROM 'object' OR declaration->'facts' = '{}' THEN
		RAISE EXCEPTION 'model %: "facts" must be an object of at least one fact', mname
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	FOR kv IN SELECT k FROM jsonb_object_keys(declaration) AS k
			WHERE k NOT IN ('name', 'landing_schema', 'dimensions', 'facts')
	LOOP
		RAISE EXCEPTION 'model %: unknown key "%" in the declaration', mname, kv.k
			USING ERRCODE = 'invalid_parameter_value';
	END LOOP;
	EXECUTE pg_catalog.format('CREATE SCHEMA %s', m);
	EXECUTE pg_catalog.format('COMMENT ON SCHEMA %s IS %L', m,
		'walstar model ' || mname || ': generated by walstar.create_model(); walstar.drop_model() removes it');
	EXECUTE pg_catalog.format('CREATE TABLE %s._declaration (declaration jsonb NOT NULL)', m);
	EXECUTE pg_catalog.format('INSERT INTO %s._declaration VALUES ($1)', m) USING declaration;
	EXECUTE pg_catalog.format('CREATE TABLE %s._state (source name PRIMARY KEY, last_change_at timestamptz,'
		' statements bigint NOT NULL DEFAULT 0, rows_changed bigint NOT NULL DEFAULT 0)', m);

	------------------------------------------------------------------
	-- dimensions
	------------------------------------------------------------------
	FOR dim IN SELECT key AS name, value AS def FROM jsonb_each(coalesce(declaration->'dimensions', '{}'))
	LOOP
		PERFORM @extschema@._model_name(dim.name, 'a dimension''s name');
		d := dim.def;
		IF d ? 'fact' THEN
			-- a fact's rows as a dimension: taken up after that fact
			IF NOT (declaration->'facts') ? (d->>'fact') OR d ? 'table' THEN
				RAISE EXCEPTION 'model %: dimension %: "fact" must name a fact of the model (and no "table")', mname, dim.name
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF jsonb_typeof(d->'attributes') IS DISTINCT FROM 'object' OR d->'attributes' = '{}' THEN
				RAISE EXCEPTION 'model %: dimension %: "attributes" must name at least one attribute', mname, dim.name
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			CONTINUE;
		END IF;
		SELECT * INTO src FROM @extschema@._model_source(lschema, d->>'table', 'dimension ' || dim.name);
		owners := owners || src.owner;
		IF jsonb_typeof(d->'attributes') IS DISTINCT FROM 'object' OR d->'attributes' = '{}' THEN
			RAISE EXCEPTION 'model %: dimension %: "attributes" must name at least one attribute', mname, dim.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF coalesce(d->>'scd', '1') NOT IN ('1', '2') THEN
			RAISE EXCEPTION 'model %: dimension %: "scd" must be 1 or 2', mname, dim.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		IF d->>'scd' = '2' THEN
			e := @extschema@._model_expr(d->>'effective', 'dimension ' || dim.name || ' "effective"');
			t := @extschema@._model_type(e, src.rel, 's', 'dimension ' || dim.name || ' "effective"');
			IF t NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
				RAISE EXCEPTION 'model %: dimension %: "effective" must be a date or timestamp, got %', mname, dim.name, t
					USING ERRCODE = 'datatype_mismatch';
			END IF;
			-- the versions, from the version history the apply worker keeps
			PERFORM @extschema@.register_model_source(mname, lschema, d->>'table', true);
			cols := pg_catalog.format('%I %s NOT NULL, valid_from timestamptz NOT NULL', src.key_col, src.key_type);
			sel := pg_catalog.format('s.%I, (%s)::timestamptz', src.key_col, e);
			FOR kv IN SELECT key, value FROM jsonb_each_text(d->'attributes')
			LOOP
				PERFORM @extschema@._model_name(kv.key, 'an attribute of dimension ' || dim.name);
				e := @extschema@._model_expr(kv.value, 'dimension ' || dim.name || ' attribute ' || kv.key);
				t := @extschema@._model_type(e, src.rel, 's', 'dimension ' || dim.name || ' attribute ' || kv.key);
				cols := cols || pg_catalog.format(', %I %s', kv.key, @extschema@._model_coltype(t));
				sel := sel || ', ' || e;
			END LOOP;
			EXECUTE pg_catalog.format('CREATE TABLE %s.%I (%s, PRIMARY KEY (%I, valid_from))', m, 'd_' || dim.name,
				cols, src.key_col);
			-- the versions of keys k (NULL: all), by the scenario's rule: after a
			-- key's last delete (and the last truncate), each effective time's
			-- newest version
			ver := pg_catalog.format(
				'SELECT DISTINCT ON (s.%1$I, (%2$s)::timestamptz) %3$s FROM walstar_versions.%4$I AS s'
				' WHERE s.walstar_op IN (''I'', ''U'', ''R'') AND (%2$s) IS NOT NULL'
				'  AND s.walstar_version > (SELECT coalesce(pg_catalog.max(h.walstar_version), 0) FROM walstar_versions.%4$I h WHERE h.walstar_op = ''T'')'
				'  AND NOT EXISTS (SELECT FROM walstar_versions.%4$I h WHERE h.walstar_op = ''D'' AND h.%1$I = s.%1$I AND h.walstar_version > s.walstar_version)'
				'  AND ($1 IS NULL OR s.%1$I = ANY ($1))'
				' ORDER BY s.%1$I, (%2$s)::timestamptz, s.walstar_version DESC',
				src.key_col, @extschema@._model_expr(d->>'effective', 'effective'), sel,
				@extschema@._model_history(lschema, (d->>'table')::name));
			EXECUTE pg_catalog.format('CREATE FUNCTION %s.%I(k %s[]) RETURNS SETOF %s.%I LANGUAGE sql STABLE'
				' SET search_path = pg_catalog, pg_temp AS %L', m, '_versions_' || dim.name, src.key_type, m,
				'd_' || dim.name, ver);
			dims_scd := dims_scd || jsonb_build_object(dim.name, jsonb_build_object('scd', 2, 'key', src.key_col,
				'key_type', src.key_type, 'rel', src.rel, 'table', d->>'table', 'versions', ver,
				'effective', @extschema@._model_expr(d->>'effective', 'effective')));
			verify := verify || pg_catalog.format(
				' UNION ALL SELECT %1$L, ''missing'', pg_catalog.row_to_json(x)::text FROM'
				' (SELECT * FROM %2$s.%3$I(NULL) EXCEPT SELECT * FROM %2$s.%4$I) x'
				' UNION ALL SELECT %1$L, ''extra'', pg_catalog.row_to_json(x)::text FROM'
				' (SELECT * FROM %2$s.%4$I EXCEPT SELECT * FROM %2$s.%3$I(NULL)) x',
				'd_' || dim.name, m, '_versions_' || dim.name, 'd_' || dim.name);
			rebuild := rebuild || pg_catalog.format(' DELETE FROM %1$s.%2$I; INSERT INTO %1$s.%2$I SELECT * FROM %1$s.%3$I(NULL);',
				m, 'd_' || dim.name, '_versions_' || dim.name);
		ELSE
			-- once per table: its versions are kept if an SCD2 dimension reads it
			PERFORM @extschema@.register_model_source(mname, lschema, d->>'table',
				@extschema@._model_keeps_versions(declaration, d->>'table'));
			FOR kv IN SELECT key, value FROM jsonb_each_text(d->'attributes')
			LOOP
				PERFORM @extschema@._model_name(kv.key, 'an attribute of dimension ' || dim.name);
				e := @extschema@._model_expr(kv.value, 'dimension ' || dim.name || ' attribute ' || kv.key);
				PERFORM @extschema@._model_type(e, src.rel, 's', 'dimension ' || dim.name || ' attribute ' || kv.key);
			END LOOP;
			dims_scd := dims_scd || jsonb_build_object(dim.name, jsonb_build_object('scd', 1, 'key', src.key_col,
				'key_type', src.key_type, 'rel', src.rel, 'table', d->>'table'));
		END IF;
		EXECUTE pg_catalog.format('INSERT INTO %s._state (source) VALUES (%L) ON CONFLICT DO NOTHING', m, d->>'table');
	END LOOP;

	------------------------------------------------------------------
	-- facts
	------------------------------------------------------------------
	FOR fact IN SELECT x.key AS name, x.value AS def FROM jsonb_each(declaration->'facts') AS x
			ORDER BY EXISTS (SELECT FROM jsonb_each(coalesce(x.value->'references', '{}')) r
							 WHERE declaration->'dimensions'->coalesce(r.value->>'dimension', r.key) ? 'fact'), x.key
	LOOP
		PERFORM @extschema@._model_name(fact.name, 'a fact''s name');
		f := fact.def;
		FOR kv IN SELECT k FROM jsonb_object_keys(f) AS k
				WHERE k NOT IN ('table', 'group_by', 'having', 'recompute_by', 'recompute_since', 'time', 'filter', 'columns', 'references', 'measures',
								'rollups', 'rankings')
		LOOP
			RAISE EXCEPTION 'model %: fact %: unknown key "%"', mname, fact.name, kv.k
				USING ERRCODE = 'invalid_parameter_value';
		END LOOP;
		SELECT * INTO src FROM @extschema@._model_source(lschema, f->>'table', 'fact ' || fact.name);
		owners := owners || src.owner;
		PERFORM @extschema@.register_model_source(mname, lschema, f->>'table',
			@extschema@._model_keeps_versions(declaration, f->>'table'));
		grouped := f ? 'group_by';
		IF grouped THEN
			-- an accumulating snapshot: one fact per value of a column, its
			-- columns aggregates over the landing rows that have it
			SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) INTO src.key_col, src.key_type
			FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = src.rel::regclass AND a.attname = f->>'group_by' AND a.attnum > 0 AND NOT a.attisdropped;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'model %: fact %: "group_by" must name a column of %, got %', mname, fact.name, src.rel,
					coalesce(f->>'group_by', 'nothing') USING ERRCODE = 'undefined_column';
			END IF;
			EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON %s (%I)', 'walstar_model_' || mname || '_' || fact.name,
				src.rel, src.key_col);
		ELSIF f ? 'having' THEN
			RAISE EXCEPTION 'model %: fact %: "having" needs "group_by"', mname, fact.name USING ERRCODE = 'invalid_parameter_value';
		END IF;
		-- recompute_by: a fact's columns look at other rows with the same value
		-- of this column (an earlier booking of the user): a change to one
		-- computes them all again; with recompute_since, only those from the
		-- earliest value of that column among the changed rows (old and new)
		-- on, as the columns look only at rows at or before their own
		rb := NULL;
		rs := NULL;
		IF f ? 'recompute_by' THEN
			SELECT a.attname INTO rb FROM pg_catalog.pg_attribute a
			WHERE a.attrelid = src.rel::regclass AND a.attname = f->>'recompute_by' AND a.attnum > 0 AND NOT a.attisdropped;
			IF rb IS NULL OR grouped THEN
				RAISE EXCEPTION 'model %: fact %: "recompute_by" must name a column of % (and no "group_by")', mname, fact.name, src.rel
					USING ERRCODE = 'undefined_column';
			END IF;
			IF f ? 'recompute_since' THEN
				SELECT a.attname INTO rs FROM pg_catalog.pg_attribute a
				WHERE a.attrelid = src.rel::regclass AND a.attname = f->>'recompute_since' AND a.attnum > 0 AND NOT a.attisdropped;
				IF rs IS NULL OR rs = rb THEN
					RAISE EXCEPTION 'model %: fact %: "recompute_since" must name another column of %, got %', mname, fact.name, src.rel,
						f->>'recompute_since' USING ERRCODE = 'undefined_column';
				END IF;
			END IF;
			EXECUTE pg_catalog.format('CREATE INDEX IF NOT EXISTS %I ON %s (%I%s)', 'walstar_model_' || mname || '_' || fact.name,
				src.rel, rb, CASE WHEN rs IS NULL THEN '' ELSE ', ' || pg_catalog.quote_ident(rs) END);
		ELSIF f ? 'recompute_since' THEN
			RAISE EXCEPTION 'model %: fact %: "recompute_since" needs "recompute_by"', mname, fact.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		facts_info := facts_info || jsonb_build_object(fact.name, jsonb_build_object('key', src.key_col,
			'key_type', src.key_type, 'ftab', pg_catalog.format('%s.%I', m, 'f_' || fact.name)));
		EXECUTE pg_catalog.format('INSERT INTO %s._state (source) VALUES (%L) ON CONFLICT DO NOTHING', m, f->>'table');
		ftab := pg_catalog.format('%s.%I', m, 'f_' || fact.name);
		fcols := ARRAY[src.key_col::text, '_day'];
		cols := pg_catalog.format('%I %s PRIMARY KEY, _day date', src.key_col, src.key_type);
		sel := pg_catalog.format('s.%I', src.key_col);
		joins := '';
		-- the day (UTC) of the fact's time; inner: the fact's own columns over
		-- the landing row s alone, outer: the dimensions' attributes
		time_ref := CASE WHEN (f->'references') ? pg_catalog.substring(f->>'time', '^([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$')
						 THEN f->>'time' END;
		e := @extschema@._model_expr(CASE WHEN time_ref IS NULL THEN f->>'time' ELSE 'NULL::date' END,
			'fact ' || fact.name || ' "time"');
		t := @extschema@._model_type(e, src.rel, 's', 'fact ' || fact.name || ' "time"');
		inner_sel := pg_catalog.format('s.%I AS _k', src.key_col) ||
			CASE t WHEN 'timestamptz'::regtype THEN pg_catalog.format(', (%s AT TIME ZONE ''UTC'')::date AS _day', e)
				   WHEN 'timestamp'::regtype THEN pg_catalog.format(', (%s)::date AS _day', e)
				   WHEN 'date'::regtype THEN pg_catalog.format(', %s AS _day', e)
				   ELSE NULL END;
		IF inner_sel IS NULL THEN
			RAISE EXCEPTION 'model %: fact %: "time" must be a date or timestamp, got %', mname, fact.name, t
				USING ERRCODE = 'datatype_mismatch';
		END IF;
		sel := 'q._k, @day@';
		i := 0;
		FOR kv IN SELECT key, value FROM jsonb_each_text(coalesce(f->'columns', '{}'))
		LOOP
			PERFORM @extschema@._model_name(kv.key, 'a column of fact ' || fact.name);
			IF kv.key = ANY (fcols) THEN
				RAISE EXCEPTION 'model %: fact %: duplicate column name %', mname, fact.name, kv.key
					USING ERRCODE = 'duplicate_column';
			END IF;
			e := @extschema@._model_expr(kv.value, 'fact ' || fact.name || ' column ' || kv.key);
			t := @extschema@._model_type(e, src.rel, 's', 'fact ' || fact.name || ' column ' || kv.key);
			i := i + 1;
			fcols := fcols || kv.key;
			cols := cols || pg_catalog.format(', %I %s', kv.key, @extschema@._model_coltype(t));
			inner_sel := inner_sel || pg_catalog.format(', %s AS _c%s', e, i);
			sel := sel || pg_catalog.format(', q._c%s', i);
		END LOOP;
		-- references: the dimension's key, and its attributes as of a time
		-- a reference's key or as_of may be another reference's attribute
		-- (ref.attribute: a player's club as of the match's time): those after it
		ref_order := '{}';
		FOR pass IN 1 .. 8
		LOOP
			FOR rec IN SELECT key, value FROM jsonb_each(coalesce(f->'references', '{}')) WHERE NOT key = ANY (ref_order)
			LOOP
				IF NOT EXISTS (SELECT FROM unnest(ARRAY[rec.value->>'key', rec.value->>'as_of']) AS x(e),
								   LATERAL pg_catalog.substring(x.e, '^([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$') AS y(r)
							   WHERE (f->'references') ? y.r AND NOT y.r = ANY (ref_order)) THEN
					ref_order := ref_order || rec.key;
				END IF;
			END LOOP;
		END LOOP;
		IF cardinality(ref_order) < (SELECT count(*) FROM jsonb_object_keys(coalesce(f->'references', '{}'))) THEN
			RAISE EXCEPTION 'model %: fact %: references that depend on each other in a circle', mname, fact.name
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
		ref_types := '{}';
		FOR kv IN SELECT r.key, r.value FROM unnest(ref_order) WITH ORDINALITY AS o(name, n),
				LATERAL (SELECT o.name AS key, f->'references'->o.name AS value) AS r ORDER BY o.n
		LOOP
			PERFORM @extschema@._model_name(kv.key, 'a reference of fact ' || fact.name);
			g := coalesce(kv.value->>'dimension', kv.key);
			IF NOT dims_scd ? g AND declaration->'dimensions'->g ? 'fact' THEN
				IF NOT facts_info ? (declaration->'dimensions'->g->>'fact') THEN
					RAISE EXCEPTION 'model %: fact %: dimension % shows fact %, which itself references a fact',
						mname, fact.name, g, declaration->'dimensions'->g->>'fact' USING ERRCODE = 'invalid_parameter_value';
				END IF;
				dims_scd := dims_scd || jsonb_build_object(g, jsonb_build_object('scd', 1, 'fact', declaration->'dimensions'->g->>'fact',
					'key', facts_info->(declaration->'dimensions'->g->>'fact')->>'key',
					'key_type', facts_info->(declaration->'dimensions'->g->>'fact')->>'key_type',
					'rel', facts_info->(declaration->'dimensions'->g->>'fact')->>'ftab'));
			END IF;
			IF NOT dims_scd ? g THEN
				RAISE EXCEPTION 'model %: fact %: reference % names no dimension %', mname, fact.name, kv.key, g
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			d := declaration->'dimensions'->g;
			IF (kv.key || '_key') = ANY (fcols) THEN
				RAISE EXCEPTION 'model %: fact %: duplicate column name %', mname, fact.name, kv.key || '_key'
					USING ERRCODE = 'duplicate_column';
			END IF;
			fcols := fcols || (kv.key || '_key');
			cols := cols || pg_catalog.format(', %I %s', kv.key || '_key', dims_scd->g->>'key_type');
			IF ref_types ? (kv.value->>'key') THEN
				-- another reference's attribute, found or NULL
				refkey := pg_catalog.format('(%s)::%s', pg_catalog.format('%I.%I', 'r_' || pg_catalog.split_part(kv.value->>'key', '.', 1),
					pg_catalog.split_part(kv.value->>'key', '.', 2)), dims_scd->g->>'key_type');
			ELSE
				e := @extschema@._model_expr(kv.value->>'key', 'fact ' || fact.name || ' reference ' || kv.key || ' "key"');
				PERFORM @extschema@._model_type(e, src.rel, 's', 'fact ' || fact.name || ' reference ' || kv.key || ' "key"');
				i := i + 1;
				inner_sel := inner_sel || pg_catalog.format(', (%s)::%s AS _c%s', e, dims_scd->g->>'key_type', i);
				refkey := pg_catalog.format('q._c%s', i);
			END IF;
			sel := sel || ', ' || refkey;
			-- the attributes' values, found or not (unknown member)
			body := '';
			FOR rec IN SELECT key, value FROM jsonb_each_text(d->'attributes')
			LOOP
				IF (kv.key || '_' || rec.key) = ANY (fcols) THEN
					RAISE EXCEPTION 'model %: fact %: duplicate column name %', mname, fact.name, kv.key || '_' || rec.key
						USING ERRCODE = 'duplicate_column';
				END IF;
				t := @extschema@._model_type(@extschema@._model_expr(rec.value, 'attribute'), dims_scd->g->>'rel', 's', 'attribute');
				body := body || ', ' || CASE WHEN dims_scd->g->>'scd' = '2' THEN pg_catalog.format('s.%I', rec.key)
											 ELSE @extschema@._model_expr(rec.value, 'attribute') END
					|| pg_catalog.format(' AS %I', rec.key);
				fcols := fcols || (kv.key || '_' || rec.key);
				ref_types := ref_types || jsonb_build_object(kv.key || '.' || rec.key, t::text);
				cols := cols || pg_catalog.format(', %I %s', kv.key || '_' || rec.key, @extschema@._model_coltype(t));
				sel := sel || CASE WHEN d->'unknown'->>rec.key IS NULL THEN pg_catalog.format(', %I.%I', 'r_' || kv.key, rec.key)
					ELSE pg_catalog.format(', CASE WHEN %1$I.found THEN %1$I.%2$I ELSE %3$L::%4$s END',
						'r_' || kv.key, rec.key, d->'unknown'->>rec.key, @extschema@._model_coltype(t)) END;
			END LOOP;
			IF dims_scd->g->>'scd' = '2' THEN
				IF ref_types ? (kv.value->>'as_of') THEN
					asof := pg_catalog.format('coalesce((%I.%I)::timestamptz, ''infinity'')',
						'r_' || pg_catalog.split_part(kv.value->>'as_of', '.', 1), pg_catalog.split_part(kv.value->>'as_of', '.', 2));
				ELSE
					cond := @extschema@._model_expr(coalesce(kv.value->>'as_of', 'NULL::timestamptz'),
						'fact ' || fact.name || ' reference ' || kv.key || ' "as_of"');
					PERFORM @extschema@._model_type(cond || '::timestamptz', src.rel, 's',
						'fact ' || fact.name || ' reference ' || kv.key || ' "as_of"');
					i := i + 1;
					inner_sel := inner_sel || pg_catalog.format(', coalesce((%s)::timestamptz, ''infinity'') AS _c%s', cond, i);
					asof := pg_catalog.format('q._c%s', i);
				END IF;
				-- the as_of kept in the fact: a version change refreshes only the
				-- facts at or after it (refreshes_since)
				cols := cols || pg_catalog.format(', %I timestamptz', '_asof_' || kv.key);
				sel := sel || ', ' || asof;
				refreshes_since := jsonb_set(refreshes_since, ARRAY[g], coalesce(refreshes_since->g, '[]') ||
					jsonb_build_array(pg_catalog.format(
						'PERFORM %s.%I(ARRAY(SELECT f.%I FROM %s AS f, ROWS FROM (pg_catalog.unnest(walstar_moved), pg_catalog.unnest(walstar_since)) AS c(k, since)'
						' WHERE f.%I = c.k AND f.%I >= c.since));',
						m, '_refresh_' || fact.name, src.key_col, ftab, kv.key || '_key', '_asof_' || kv.key)));
				-- the version in effect at as_of; before the first one, the first:
				-- two probes of the primary key (the second only when the first
				-- finds nothing), not a sort of the key's versions per fact
				joins := joins || pg_catalog.format(
					' LEFT JOIN LATERAL (SELECT true AS found%1$s FROM ('
					'(SELECT * FROM %2$s.%3$I AS s WHERE s.%4$I = %5$s AND s.valid_from <= %6$s'
					' ORDER BY s.valid_from DESC LIMIT 1) UNION ALL'
					' (SELECT * FROM %2$s.%3$I AS s WHERE s.%4$I = %5$s ORDER BY s.valid_from LIMIT 1)'
					' LIMIT 1) AS s) AS %7$I ON true',
					body, m, 'd_' || g, dims_scd->g->>'key', refkey, asof, 'r_' || kv.key);
			ELSE
				joins := joins || pg_catalog.format(
					' LEFT JOIN LATERAL (SELECT true AS found%1$s FROM %2$s AS s WHERE s.%3$I = %4$s) AS %5$I ON true',
					body, dims_scd->g->>'rel', dims_scd->g->>'key', refkey, 'r_' || kv.key);
			END IF;
			refreshes := jsonb_set(refreshes, ARRAY[g], coalesce(refreshes->g, '[]') ||
				jsonb_build_array(pg_catalog.format(
					'PERFORM %s.%I(ARRAY(SELECT f.%I FROM %s AS f WHERE f.%I = ANY (k)));',
					m, '_refresh_' || fact.name, src.key_col, ftab, kv.key || '_key')));
			refreshes_all := jsonb_set(refreshes_all, ARRAY[g], coalesce(refreshes_all->g, '[]') ||
				jsonb_build_array(pg_catalog.format('PERFORM %s.%I(NULL);', m, '_refresh_' || fact.name)));
		END LOOP;
		IF time_ref IS NOT NULL THEN
			IF NOT ref_types ? time_ref THEN
				RAISE EXCEPTION 'model %: fact %: "time" % names no attribute of reference %', mname, fact.name, time_ref,
					pg_catalog.split_part(time_ref, '.', 1) USING ERRCODE = 'undefined_column';
			END IF;
			e := pg_catalog.format('%I.%I', 'r_' || pg_catalog.split_part(time_ref, '.', 1), pg_catalog.split_part(time_ref, '.', 2));
			sel := pg_catalog.replace(sel, '@day@', CASE ref_types->>time_ref
				WHEN 'timestamp with time zone' THEN pg_catalog.format('(%s AT TIME ZONE ''UTC'')::date', e)
				WHEN 'timestamp without time zone' THEN pg_catalog.format('(%s)::date', e)
				WHEN 'date' THEN e
				ELSE NULL END);
			IF sel IS NULL THEN
				RAISE EXCEPTION 'model %: fact %: "time" must be a date or timestamp, got %', mname, fact.name, ref_types->>time_ref
					USING ERRCODE = 'datatype_mismatch';
			END IF;
		ELSE
			sel := pg_catalog.replace(sel, '@day@', 'q._day');
		END IF;
		EXECUTE pg_catalog.format('CREATE TABLE %s (%s)', ftab, cols);
		EXECUTE pg_catalog.format('CREATE INDEX ON %s (_day)', ftab);
		FOR kv IN SELECT key FROM jsonb_each(coalesce(f->'references', '{}'))
		LOOP
			IF (kv.key || '_key') = ANY (fcols) AND ('_asof_' || kv.key) = ANY (SELECT a.attname FROM pg_catalog.pg_attribute a
					WHERE a.attrelid = ftab::regclass AND a.attnum > 0) THEN
				EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I, %I)', ftab, kv.key || '_key', '_asof_' || kv.key);
			ELSE
				EXECUTE pg_catalog.format('CREATE INDEX ON %s (%I)', ftab, kv.key || '_key');
			END IF;
		END LOOP;
		-- the fact rows of the landing rows with keys k (NULL: all)
		cond := CASE WHEN f->>'filter' IS NULL THEN 'true'
					 ELSE @extschema@._model_expr(f->>'filter', 'fact ' || fact.name || ' "filter"') END;
		IF @extschema@._model_type(cond, src.rel, 's', 'fact ' || fact.name || ' "filter"') <> 'boolean'::regtype THEN
			RAISE EXCEPTION 'model %: fact %: "filter" must be boolean', mname, fact.name USING ERRCODE = 'datatype_mismatch';
		END IF;
		ffilter := cond;
		IF grouped THEN
			e := CASE WHEN f->>'having' IS NULL THEN 'true'
					  ELSE @extschema@._model_expr(f->>'having', 'fact ' || fact.name || ' "having"') END;
			body := pg_catalog.format('SELECT %s FROM (SELECT %s FROM %s AS s WHERE ($1 IS NULL OR s.%I = ANY ($1)) AND %s IS TRUE'
				' AND s.%I IS NOT NULL GROUP BY s.%I HAVING %s IS TRUE) AS q%s',
				sel, inner_sel, src.rel, src.key_col, cond, src.key_col, src.key_col, e, joins);
		ELSE
			body := pg_catalog.format('SELECT %s FROM (SELECT %s FROM %s AS s WHERE ($1 IS NULL OR s.%I = ANY ($1)) AND %s IS TRUE) AS q%s',
				sel, inner_sel, src.rel, src.key_col, cond, joins);
		END IF;
		rows_sql := body;		-- planned for the keys where it runs (_refresh_)
		BEGIN
			EXECUTE pg_catalog.format('CREATE FUNCTION %s.%I(k %s[]) RETURNS SETOF %s LANGUAGE sql STABLE'
				' SET search_path = pg_catalog, pg_temp AS %L', m, '_rows_' || fact.name, src.key_type, ftab, body);
		EXCEPTION WHEN others THEN
			RAISE EXCEPTION 'model %: fact %: %', mname, fact.name, SQLERRM USING ERRCODE = 'invalid_parameter_value';
		END;
		-- measures: additive ones kept in the rollups, the others read from facts
		refresh := '';
		build := '';
		hists := '{}';
		all_by := '{}';
		FOR rec IN SELECT key, value FROM jsonb_each(coalesce(f->'rollups', '{}'))
		LOOP
			PERFORM @extschema@._model_name(rec.key, 'a rollup of fact ' || fact.name);
			grain := coalesce(rec.value->>'grain', 'day');
			IF grain NOT IN ('day', 'month', 'year', 'all') THEN
				RAISE EXCEPTION 'model %: rollup %: "grain" must be day, month, year or all', mname, rec.key
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF coalesce(jsonb_typeof(rec.value->'histograms'), 'boolean') <> 'boolean'
			   OR coalesce(jsonb_typeof(rec.value->'buckets'), 'boolean') <> 'boolean'
			   OR coalesce(jsonb_typeof(rec.value->'keep_percentiles'), 'boolean') <> 'boolean' THEN
				RAISE EXCEPTION 'model %: rollup %: "histograms", "buckets" and "keep_percentiles" must be true or false', mname, rec.key
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			SELECT array_agg(pg_catalog.replace(b, '.', '_') ORDER BY n) INTO bys
			FROM jsonb_array_elements_text(coalesce(rec.value->'by', '[]')) WITH ORDINALITY AS x(b, n);
			FOREACH g IN ARRAY coalesce(bys, '{}')
			LOOP
				IF NOT g = ANY (fcols) OR g IN ('_day') THEN
					RAISE EXCEPTION 'model %: rollup %: "by" names no column % of fact %', mname, rec.key, g, fact.name
						USING ERRCODE = 'undefined_column';
				END IF;
				IF NOT g = ANY (all_by) THEN
					all_by := all_by || g;
				END IF;
			END LOOP;
		END LOOP;
		FOR rec IN SELECT key, value FROM jsonb_each(coalesce(f->'measures', '{}'))
				ORDER BY CASE value->>'kind' WHEN 'formula' THEN 2 WHEN 'ratio' THEN 1 ELSE 0 END, key
		LOOP
			PERFORM @extschema@._model_name(rec.key, 'a measure of fact ' || fact.name);
			IF rec.key = ANY (measure_names) OR rec.key IN ('verify', 'rebuild', 'freshness') THEN
				RAISE EXCEPTION 'model %: duplicate measure name %', mname, rec.key USING ERRCODE = 'duplicate_function';
			END IF;
			measure_names := measure_names || rec.key;
			kind := rec.value->>'kind';
			IF kind IS NULL OR kind NOT IN ('count', 'sum', 'avg', 'min', 'max', 'count_distinct', 'percentile', 'ratio', 'formula') THEN
				RAISE EXCEPTION 'model %: measure %: "kind" must be count, sum, avg, min, max, count_distinct, percentile, ratio or formula', mname, rec.key
					USING ERRCODE = 'invalid_parameter_value';
			END IF;
			IF kind = 'formula' THEN
				-- an expression over other measures (not formulas) of the fact, by name
				mexpr := @extschema@._model_expr(rec.value->>'of', 'measure ' || rec.key || ' "of"');
				SELECT coalesce(string_agg(pg_catalog.format('NULL::%s AS %I', x.value->>'rt', x.key), ', '), ''),
					   coalesce(array_agg(x.key), '{}')
				INTO e, bys
				FROM jsonb_each(minfo) AS x
				WHERE (f->'measures') ? x.key AND x.value->>'kind' <> 'formula' AND mexpr ~ ('\m' || x.key || '\M');
				IF e = '' THEN
					RAISE EXCEPTION 'model %: measure %: a formula must use other measures (not formulas) of fact %', mname, rec.key, fact.name
						USING ERRCODE = 'invalid_parameter_value';
				END IF;
				BEGIN
					EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof((SELECT %s FROM (SELECT %s) AS x))', mexpr, e) INTO t;
				EXCEPTION WHEN others THEN
					RAISE EXCEPTION 'model %: measure %: %', mname, rec.key, SQLERRM USING ERRCODE = 'invalid_parameter_value';
				END;
				rt := t::text;
			END IF;
			IF kind NOT IN ('ratio', 'formula') THEN
				mexpr := CASE WHEN kind = 'count' AND rec.value->>'of' IS NULL THEN 'true'
							  ELSE @extschema@._model_expr(rec.value->>'of', 'measure ' || rec.key || ' "of"') END;
				t := @extschema@._model_type(mexpr, ftab, 'f', 'measure ' || rec.key || ' "of"');
				mfilter := CASE WHEN rec.value->>'filter' IS NULL THEN 'true'
								ELSE @extschema@._model_expr(rec.value->>'filter', 'measure ' || rec.key || ' "filter"') END;
				IF @extschema@._model_type(mfilter, ftab, 'f', 'measure ' || rec.key || ' "filter"') <> 'boolean'::regtype THEN
					RAISE EXCEPTION 'model %: measure %: "filter" must be boolean', mname, rec.key USING ERRCODE = 'datatype_mismatch';
				END IF;
				IF kind IN ('sum', 'avg', 'percentile', 'min', 'max') AND NOT @extschema@._model_numeric(t) THEN
					RAISE EXCEPTION 'model %: measure %: % needs a numeric or interval expression, got %', mname, rec.key, kind, t
						USING ERRCODE = 'datatype_mismatch';
				END IF;
				-- kept as running sums: exact types only
				IF kind IN ('sum', 'avg') AND t IN ('real'::regtype, 'double precision'::regtype) THEN
					RAISE EXCEPTION 'model %: measure %: % of % would not stay exact under deletes: cast it to numeric', mname, rec.key, kind, t
						USING ERRCODE = 'datatype_mismatch';
				END IF;
			END IF;
				-- the result type and the aggregate over fact rows f
			IF kind = 'count' THEN
				rt := 'bigint'; fagg := pg_catalog.format('pg_catalog.count(*) FILTER (WHERE %s AND %s IS NOT NULL)', mfilter, mexpr);
			ELSIF kind = 'count_distinct' THEN
				rt := 'bigint'; fagg := pg_catalog.format('pg_catalog.count(DISTINCT %s) FILTER (WHERE %s)', mexpr, mfilter);
			ELSIF kind = 'percentile' THEN
				IF jsonb_typeof(rec.value->'fraction') IS DISTINCT FROM 'number'
				   OR (rec.value->>'fraction')::float8 NOT BETWEEN 0 AND 1 THEN
					RAISE EXCEPTION 'model %: measure %: "fraction" must be a number from 0 to 1', mname, rec.key
						USING ERRCODE = 'invalid_parameter_value';
				END IF;
				rt := CASE WHEN t = 'interval'::regtype THEN 'interval' ELSE 'double precision' END;
				frac := ((rec.value->>'fraction')::float8)::text;
				fagg := pg_catalog.format('pg_catalog.percentile_cont(%s::float8) WITHIN GROUP (ORDER BY %s) FILTER (WHERE %s)',
					frac, mexpr, mfilter);
			ELSIF kind = 'ratio' THEN
				rt := 'numeric';
			ELSIF kind = 'formula' THEN
				NULL;
			ELSE
				EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof((SELECT pg_catalog.%s(%s) FROM %s AS f))',
					CASE kind WHEN 'avg' THEN 'avg' WHEN 'sum' THEN 'sum' ELSE kind END, mexpr, ftab) INTO tt;
				rt := tt::text;
				fagg := pg_catalog.format('pg_catalog.%s(%s) FILTER (WHERE %s)', kind, mexpr, mfilter);
			END IF;

			params := 'p_from date DEFAULT NULL, p_to date DEFAULT NULL';
			pargs := 'p_from, p_to';
			cond := '(p_from IS NULL OR f._day >= p_from) AND (p_to IS NULL OR f._day <= p_to)';
			FOREACH g IN ARRAY all_by
			LOOP
				EXECUTE pg_catalog.format('SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a'
					' WHERE a.attrelid = %L::regclass AND a.attname = %L', ftab, g) INTO tname;
				params := params || pg_catalog.format(', %I %s DEFAULT NULL', 'p_' || g, tname);
				pargs := pargs || ', ' || pg_catalog.quote_ident('p_' || g);
				cond := cond || pg_catalog.format(' AND (%1$I IS NULL OR f.%2$I = %1$I)', 'p_' || g, g);
			END LOOP;
			-- "required": by columns that must be given (a sum over currencies means nothing)
			SELECT coalesce(array_agg(pg_catalog.replace(b, '.', '_') ORDER BY n), '{}') INTO req
			FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(rec.value->'required') = 'array'
				THEN rec.value->'required' ELSE '[]' END) WITH ORDINALITY AS x(b, n);
			IF rec.value ? 'required' AND (jsonb_typeof(rec.value->'required') <> 'array'
			   OR cardinality(req) = 0 OR NOT req <@ all_by) THEN
				RAISE EXCEPTION 'model %: measure %: "required" must be a list of "by" columns of the rollups of fact %',
					mname, rec.key, fact.name USING ERRCODE = 'invalid_parameter_value';
			END IF;
			branches := (SELECT coalesce(string_agg(pg_catalog.format('IF %I IS NULL THEN RAISE EXCEPTION %L USING ERRCODE = %L, HINT = %L; END IF; ',
					'p_' || b, pg_catalog.format('%s: %s is required', rec.key, 'p_' || b), 'null_value_not_allowed',
					pg_catalog.format('give %s (every argument of %s but %s may be NULL)', 'p_' || b, rec.key,
						pg_catalog.array_to_string(ARRAY(SELECT 'p_' || r FROM unnest(req) r), ', '))), ''), '')
				FROM unnest(req) AS b);
			IF kind = 'ratio' THEN
				IF NOT (f->'measures'->(rec.value->>'numerator') ?| ARRAY['kind'] AND f->'measures'->(rec.value->>'denominator') ?| ARRAY['kind'])
				   OR f->'measures'->(rec.value->>'numerator')->>'kind' IN ('ratio', 'formula')
				   OR f->'measures'->(rec.value->>'denominator')->>'kind' IN ('ratio', 'formula') THEN
					RAISE EXCEPTION 'model %: measure %: "numerator" and "denominator" must name other measures (not ratios or formulas) of fact %',
						mname, rec.key, fact.name USING ERRCODE = 'invalid_parameter_value';
				END IF;
				branches := branches || pg_catalog.format('RETURN (%1$s.%2$I(%4$s))::numeric / NULLIF((%1$s.%3$I(%4$s))::numeric, 0);',
					m, rec.value->>'numerator', rec.value->>'denominator', pargs);
			ELSIF kind = 'formula' THEN
				branches := branches || pg_catalog.format('RETURN (SELECT %s FROM (SELECT %s) AS x);', mexpr,
					(SELECT string_agg(pg_catalog.format('%s.%I(%s) AS %I', m, b, pargs, b), ', ') FROM unnest(bys) b));
			ELSE
				-- kept per rollup: <m>_n (rows counted) and <m>_v (sum, min or max);
				-- count_distinct and percentile: the value histogram of their "of"
				-- and "filter" per rollup row (h_<fact>_<rollup>_<i>). Every kind
				-- reads the coarsest usable rollup (fewest rows to merge): grain
				-- all, year, month, day, then the fewest dimension keys among
				-- its "by" columns (many values each), then the fewest columns
				IF kind IN ('count_distinct', 'percentile') THEN
					hkey := mexpr || ' FILTER ' || mfilter;
					IF NOT hists ? hkey THEN
						i := (SELECT count(*) FROM jsonb_object_keys(hists)) + 1;
						-- a numeric histogram's bucket boundaries: a column of the
						-- model's one-row table _buckets, read once a statement
						bounds := @extschema@._model_bucket_bounds(t);
						IF bounds IS NOT NULL THEN
							IF pg_catalog.to_regclass(m || '._buckets') IS NULL THEN
								EXECUTE pg_catalog.format('CREATE TABLE %s._buckets ()', m);
								EXECUTE pg_catalog.format('INSERT INTO %s._buckets DEFAULT VALUES', m);
								EXECUTE pg_catalog.format('COMMENT ON TABLE %s._buckets IS %L', m,
									'the bucket boundaries of the value histograms (a column each, <fact>_<i>): width_bucket() of a value gives its h_ row''s _bucket');
							END IF;
							EXECUTE pg_catalog.format('ALTER TABLE %s._buckets ADD COLUMN %I %s[]', m,
								fact.name || '_' || i, CASE WHEN t = 'interval'::regtype THEN 'interval' ELSE 'double precision' END);
							EXECUTE pg_catalog.format('UPDATE %s._buckets SET %I = %L', m, fact.name || '_' || i, bounds);
						END IF;
						hists := hists || jsonb_build_object(hkey, jsonb_build_object('i', i,
							'of', mexpr, 'filter', mfilter, 'type', @extschema@._model_coltype(t), 'measures', '[]'::jsonb,
							-- ([:] makes the boundaries a value of their own, read once:
							-- a stored, toasted array would be fetched again per value)
							'bucket', CASE WHEN bounds IS NULL THEN '0' ELSE pg_catalog.format('pg_catalog.width_bucket((%s)%s, (SELECT b.%I[:] FROM %s._buckets AS b))',
								mexpr, CASE WHEN t = 'interval'::regtype THEN '' ELSE '::float8' END, fact.name || '_' || i, m) END, 'pct', false));
					END IF;
					hists := jsonb_set(hists, ARRAY[hkey, 'measures'], (hists->hkey->'measures') || to_jsonb(rec.key));
					IF kind = 'percentile' THEN
						hists := jsonb_set(hists, ARRAY[hkey, 'pct'], 'true');
					END IF;
				END IF;
				FOR kv IN SELECT x.key, x.value FROM jsonb_each(coalesce(f->'rollups', '{}')) WITH ORDINALITY AS x(key, value, n)
						ORDER BY pg_catalog.array_position(ARRAY['all', 'year', 'month', 'day'], coalesce(x.value->>'grain', 'day')),
							(SELECT count(*) FROM jsonb_array_elements_text(coalesce(x.value->'by', '[]')) AS b(c) WHERE b.c ~ '_key$'),
							jsonb_array_length(coalesce(x.value->'by', '[]')), x.n
				LOOP
					CONTINUE WHEN kind IN ('count_distinct', 'percentile') AND NOT @extschema@._model_histograms(kv.value);
					grain := coalesce(kv.value->>'grain', 'day');
					SELECT coalesce(array_agg(pg_catalog.replace(b, '.', '_') ORDER BY n), '{}') INTO bys
					FROM jsonb_array_elements_text(coalesce(kv.value->'by', '[]')) WITH ORDINALITY AS x(b, n);
					agg := CASE kind
						WHEN 'count' THEN pg_catalog.format('coalesce(pg_catalog.sum(r.%I), 0)::bigint', rec.key || '_n')
						WHEN 'sum' THEN pg_catalog.format('(pg_catalog.sum(r.%I) FILTER (WHERE r.%I > 0))::%s', rec.key || '_v', rec.key || '_n', rt)
						WHEN 'avg' THEN CASE WHEN t = 'interval'::regtype
							THEN pg_catalog.format('pg_catalog.sum(r.%I) FILTER (WHERE r.%I > 0) / NULLIF(pg_catalog.sum(r.%I), 0)::float8', rec.key || '_v', rec.key || '_n', rec.key || '_n')
							ELSE pg_catalog.format('((pg_catalog.sum(r.%I) FILTER (WHERE r.%I > 0))::numeric / NULLIF(pg_catalog.sum(r.%I), 0))::%s', rec.key || '_v', rec.key || '_n', rec.key || '_n', rt) END
						WHEN 'count_distinct' THEN 'pg_catalog.count(DISTINCT r._value)'
						WHEN 'percentile' THEN NULL
						ELSE pg_catalog.format('pg_catalog.%s(r.%I) FILTER (WHERE r.%I > 0)', kind, rec.key || '_v', rec.key || '_n') END;
					tname := CASE WHEN kind IN ('count_distinct', 'percentile')
						THEN 'h_' || fact.name || '_' || kv.key || '_' || (hists->hkey->>'i') ELSE 'r_' || fact.name || '_' || kv.key END;
					-- usable when every given dimension value is kept and the period is whole
					cond := CASE grain WHEN 'day' THEN 'true' WHEN 'all' THEN 'p_from IS NULL AND p_to IS NULL'
						WHEN 'month' THEN '(p_from IS NULL OR p_from = pg_catalog.date_trunc(''month'', p_from)::date) AND (p_to IS NULL OR (p_to + 1) = pg_catalog.date_trunc(''month'', p_to + 1)::date)'
						ELSE '(p_from IS NULL OR p_from = pg_catalog.date_trunc(''year'', p_from)::date) AND (p_to IS NULL OR (p_to + 1) = pg_catalog.date_trunc(''year'', p_to + 1)::date)' END;
					rcols := '(p_from IS NULL OR r.period >= p_from) AND (p_to IS NULL OR r.period <= p_to)';
					FOREACH g IN ARRAY all_by
					LOOP
						IF g = ANY (bys) THEN
							rcols := rcols || pg_catalog.format(' AND (%1$I IS NULL OR r.%2$I = %1$I)', 'p_' || g, g);
						ELSE
							cond := cond || pg_catalog.format(' AND %I IS NULL', 'p_' || g);
						END IF;
					END LOOP;
					IF kind = 'percentile' AND @extschema@._model_bucketed(kv.value, hists->hkey) THEN
						-- n and the ranks from the bucket counts of the rows, then the
						-- values of those buckets, rollup row by rollup row (each by its
						-- index; the rollup rows of a bucketed rollup are few)
						hc := @extschema@._model_hconds(grain, bys);
						bfrom := pg_catalog.format('%s.%I AS r WHERE %s', m, 'hb' || pg_catalog.substr(tname, 2), rcols);
						vfrom := pg_catalog.format('(SELECT r.period%1$s FROM %3$s.%2$I AS r WHERE %8$s) AS r,'
							' LATERAL (SELECT h._value, h._count FROM %3$s.%4$I AS h WHERE %5$s AND %6$s AND %10$s'
							'  UNION ALL SELECT h._value, h._count FROM %3$s.%4$I AS h WHERE NOT (%5$s) AND %7$s AND %10$s) AS h',
							(SELECT coalesce(string_agg(pg_catalog.format(', r.%I', b), ''), '') FROM unnest(bys) b),
							'r_' || fact.name || '_' || kv.key, m, tname, hc.keyed, hc.eq, hc.nullsafe, rcols, NULL,
							'h._bucket BETWEEN (SELECT w.b1 FROM w) AND (SELECT w.b2 FROM w)');
						branches := branches || pg_catalog.format('IF %s THEN RETURN %s; END IF; ', cond,
							@extschema@._model_percentile(
								pg_catalog.format('(SELECT r._bucket, r._count FROM %s) AS h', bfrom),
								vfrom, frac, CASE WHEN t = 'interval'::regtype THEN '' ELSE '::float8' END));
					ELSIF kind = 'percentile' THEN
						branches := branches || pg_catalog.format('IF %s THEN RETURN %s; END IF; ', cond,
							@extschema@._model_percentile(NULL,
								pg_catalog.format('(SELECT r._value, r._count FROM %s.%I AS r WHERE %s) AS h', m, tname, rcols),
								frac, CASE WHEN t = 'interval'::regtype THEN '' ELSE '::float8' END));
					ELSE
						branches := branches || pg_catalog.format('IF %s THEN RETURN (SELECT %s FROM %s.%I AS r WHERE %s); END IF; ',
							cond, agg, m, tname, rcols);
					END IF;
				END LOOP;
			END IF;
			IF kind NOT IN ('ratio', 'formula') THEN
				cond := '(p_from IS NULL OR f._day >= p_from) AND (p_to IS NULL OR f._day <= p_to)';
				FOREACH g IN ARRAY all_by
				LOOP
					cond := cond || pg_catalog.format(' AND (%1$I IS NULL OR f.%2$I = %1$I)', 'p_' || g, g);
				END LOOP;
				branches := branches || pg_catalog.format('RETURN (SELECT %s FROM %s AS f WHERE %s);', fagg, ftab, cond);
			END IF;
			-- planned for each call's arguments: a generic plan of "p_from IS NULL
			-- OR r.period >= p_from" reads a whole histogram
			EXECUTE pg_catalog.format('CREATE FUNCTION %s.%I(%s) RETURNS %s LANGUAGE plpgsql STABLE'
				' SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %L', m, rec.key, params, rt,
				'BEGIN ' || branches || ' END');
			minfo := minfo || jsonb_build_object(rec.key, jsonb_build_object('kind', kind, 'rt', rt, 'fagg', fagg,
				'interval', kind = 'avg' AND t = 'interval'::regtype,
				'num', rec.value->>'numerator', 'den', rec.value->>'denominator',
				'formula', CASE WHEN kind = 'formula' THEN mexpr END,
				'hist', CASE WHEN kind IN ('count_distinct', 'percentile') THEN hists->hkey->>'i' END,
				'frac', CASE WHEN kind = 'percentile' THEN frac END,
				'cast', CASE WHEN kind = 'percentile' AND t <> 'interval'::regtype THEN '::float8' ELSE '' END));
			EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.%I(%s) IS %L', m, rec.key,
				pg_catalog.regexp_replace(params, ' DEFAULT NULL', '', 'g'),
				coalesce(rec.value->>'comment', '') || CASE WHEN rec.value->>'comment' IS NULL THEN '' ELSE ' -- ' END ||
				CASE WHEN kind = 'ratio' THEN pg_catalog.format('%s / %s (NULL when the denominator is 0)',
						rec.value->>'numerator', rec.value->>'denominator')
					 WHEN kind = 'formula' THEN pg_catalog.format('%s, of the measures of the same arguments', rec.value->>'of')
					 ELSE pg_catalog.format('%s of %s over the %s facts (%s)%s', kind,
						coalesce(rec.value->>'of', '*'), fact.name,
						coalesce('where ' || (f->>'filter'), 'every row of ' || (f->>'table')),
						coalesce(' where ' || (rec.value->>'filter'), '')) END ||
				'; p_from, p_to: UTC days of ' || (f->>'time') || ', inclusive; other arguments: NULL for all, else equal to' ||
				CASE WHEN cardinality(req) = 0 THEN ''
					 ELSE '; required (NULL is an error): ' || pg_catalog.array_to_string(ARRAY(SELECT 'p_' || r FROM unnest(req) r), ', ') END);
		END LOOP;

		-- rollups: columns, the delta upsert and the min/max recompute.  Per
		-- measure: <m>_n (rows counted) and <m>_v (sum, min or max).
		FOR rec IN SELECT key, value FROM jsonb_each(coalesce(f->'rollups', '{}'))
		LOOP
			grain := coalesce(rec.value->>'grain', 'day');
			period := CASE grain WHEN 'day' THEN '_day' WHEN 'all' THEN 'NULL::date'
				ELSE pg_catalog.format('pg_catalog.date_trunc(%L, _day)::date', grain) END;
			step := CASE grain WHEN 'day' THEN 'r.period + 1'
				ELSE pg_catalog.format('(r.period + interval ''1 %s'')::date', grain) END;
			-- the facts of a rollup row's period
			pmatch := CASE grain WHEN 'all' THEN 'true'
				ELSE pg_catalog.format('(r.period IS NULL AND f._day IS NULL OR f._day >= r.period AND f._day < %s)', step) END;
			SELECT coalesce(array_agg(pg_catalog.replace(b, '.', '_') ORDER BY n), '{}') INTO bys
			FROM jsonb_array_elements_text(coalesce(rec.value->'by', '[]')) WITH ORDINALITY AS x(b, n);
			tname := pg_catalog.format('%s.%I', m, 'r_' || fact.name || '_' || rec.key);
			rcols := 'period date';
			rgroup := period || ' AS period';
			g := 'period';
			cond := '';
			-- (facts without a time have a NULL period in every grain)
			hc := @extschema@._model_hconds(grain, bys);
			FOREACH e IN ARRAY bys
			LOOP
				EXECUTE pg_catalog.format('SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a'
					' WHERE a.attrelid = %L::regclass AND a.attname = %L', ftab, e) INTO tname2;
				rcols := rcols || pg_catalog.format(', %I %s', e, tname2);
				rgroup := rgroup || pg_catalog.format(', %I', e);
				g := g || ', ' || pg_catalog.quote_ident(e);
				-- the group's facts: null-safe equality an index on the fact can
				-- serve (a reference key's), not IS NOT DISTINCT FROM (a full scan)
				cond := cond || pg_catalog.format(' AND (f.%1$I = r.%1$I OR f.%1$I IS NULL AND r.%1$I IS NULL)', e);
			END LOOP;
			hcols := rcols;
			rcols := rcols || ', n bigint NOT NULL';
			rsel := rgroup || ', pg_catalog.sum(_sign)';
			rupd := 'n = r.n + excluded.n';
			rfix := '';
			FOR kv IN SELECT key, value FROM jsonb_each(coalesce(f->'measures', '{}'))
					WHERE value->>'kind' IN ('count', 'sum', 'avg', 'min', 'max')
			LOOP
				kind := kv.value->>'kind';
				mexpr := CASE WHEN kind = 'count' AND kv.value->>'of' IS NULL THEN 'true'
							  ELSE @extschema@._model_expr(kv.value->>'of', 'of') END;
				mfilter := CASE WHEN kv.value->>'filter' IS NULL THEN 'true'
								ELSE @extschema@._model_expr(kv.value->>'filter', 'filter') END;
				rcols := rcols || pg_catalog.format(', %I bigint NOT NULL', kv.key || '_n');
				rsel := rsel || pg_catalog.format(', coalesce(pg_catalog.sum(_sign) FILTER (WHERE %s AND %s IS NOT NULL), 0)',
					mfilter, mexpr);
				rupd := rupd || pg_catalog.format(', %1$I = r.%1$I + excluded.%1$I', kv.key || '_n');
				IF kind IN ('sum', 'avg') THEN
					EXECUTE pg_catalog.format('SELECT pg_catalog.pg_typeof((SELECT pg_catalog.sum(%s) FROM %s AS f))', mexpr, ftab) INTO tt;
					rcols := rcols || pg_catalog.format(', %I %s', kv.key || '_v', tt);
					rsel := rsel || pg_catalog.format(', pg_catalog.sum(_sign * %s) FILTER (WHERE %s AND %s IS NOT NULL)', mexpr, mfilter, mexpr);
					-- no rows counted: NULL, as sum() of no rows
					rupd := rupd || pg_catalog.format(', %1$I = CASE WHEN r.%2$I + excluded.%2$I = 0 THEN NULL'
						' WHEN r.%1$I IS NULL THEN excluded.%1$I WHEN excluded.%1$I IS NULL THEN r.%1$I'
						' ELSE r.%1$I + excluded.%1$I END', kv.key || '_v', kv.key || '_n');
				ELSIF kind IN ('min', 'max') THEN
					t := @extschema@._model_type(mexpr, ftab, 'f', 'of');
					rcols := rcols || pg_catalog.format(', %I %s', kv.key || '_v', @extschema@._model_coltype(t));
					rsel := rsel || pg_catalog.format(', pg_catalog.%s(%s) FILTER (WHERE _sign > 0 AND %s)', kind, mexpr, mfilter);
					rupd := rupd || pg_catalog.format(', %1$I = %2$s(r.%1$I, excluded.%1$I)', kv.key || '_v',
						CASE kind WHEN 'min' THEN 'least' ELSE 'greatest' END);
					-- a removed value at (or past) the kept extreme: the group again.
					-- Removed: the old values less the new ones, per group (a fact
					-- rewritten for another column keeps its value: no recompute).
					-- Again from the rollup row's value histogram of the same "of"
					-- and "filter" where a percentile or count_distinct keeps one
					-- (its distinct values, refreshed first), else from the facts.
					-- A row without NULL keys reads the end of its values in the
					-- histogram's unique index (equality on every key column)
					hmin := pg_catalog.format('SELECT pg_catalog.%s(%s) FILTER (WHERE %s) FROM %s AS f WHERE %s%s',
						kind, mexpr, mfilter, ftab, pmatch, cond);
					IF hists ? (mexpr || ' FILTER ' || mfilter) AND @extschema@._model_histograms(rec.value) THEN
						e := pg_catalog.format('%s.%I', m,
							'h_' || fact.name || '_' || rec.key || '_' || (hists->(mexpr || ' FILTER ' || mfilter)->>'i'));
						hmin := pg_catalog.format('CASE WHEN %1$s THEN (SELECT h._value FROM %2$s AS h WHERE %3$s ORDER BY h._bucket%5$s, h._value%5$s LIMIT 1)'
							' ELSE (SELECT h._value FROM %2$s AS h WHERE %4$s ORDER BY h._bucket%5$s, h._value%5$s LIMIT 1) END',
							hc.keyed, e, hc.eq, hc.nullsafe, CASE kind WHEN 'min' THEN '' ELSE ' DESC' END);
					END IF;
					-- the rollup rows of those groups (_model_gmatch)
					FOR nullkeys IN 0 .. 1
					LOOP
						CONTINUE WHEN nullkeys = 1 AND grain = 'all' AND cardinality(bys) = 0;
						rfix := rfix || pg_catalog.format(
							' UPDATE %1$s AS r SET %2$I = (%7$s)'
							' FROM (SELECT %10$s, pg_catalog.%3$s(_x) AS _x FROM ('
							'  SELECT %9$s, (%4$s) AS _x FROM pg_catalog.unnest(olds) AS d WHERE %5$s'
							'  EXCEPT ALL SELECT %9$s, (%4$s) FROM pg_catalog.unnest(news) AS d WHERE %5$s) AS d'
							'  GROUP BY %10$s) AS g'
							' WHERE %11$s AND (r.%2$I IS NULL OR g._x %12$s r.%2$I);',
							tname, kv.key || '_v', kind, mexpr, mfilter, ftab, hmin, cond, rgroup, g,
							@extschema@._model_gmatch(grain, bys, nullkeys = 1),
							CASE kind WHEN 'min' THEN '<=' ELSE '>=' END);
					END LOOP;
				END IF;
			END LOOP;
			-- kept percentiles (_model_kept), last: the delta upsert leaves them
			-- alone, and they are computed again from the histograms for the
			-- rows it touched, after the histograms' upserts (and after their
			-- build); verify() computes them with percentile_cont over the facts
			rkept := '';
			kset := '';
			FOR kv IN SELECT x.key, x.value, h.value AS hist FROM jsonb_each(minfo) AS x
					JOIN jsonb_each(hists) AS h ON h.value->>'i' = x.value->>'hist'
					WHERE (f->'measures') ? x.key AND x.value->>'kind' = 'percentile'
					  AND @extschema@._model_kept(rec.value, h.value)
					ORDER BY x.key
			LOOP
				rcols := rcols || pg_catalog.format(', %I %s', kv.key || '_v', kv.value->>'rt');
				rkept := rkept || pg_catalog.format(', (%s)::%s', kv.value->>'fagg', kv.value->>'rt');
			END LOOP;
			-- grain all: period (NULL in every row) last in the unique index, so
			-- that a lookup by the other columns can use it
			gkey := CASE WHEN grain = 'all' AND g <> 'period' THEN pg_catalog.substr(g, 9) || ', period' ELSE g END;
			EXECUTE pg_catalog.format('CREATE TABLE %s (%s, UNIQUE NULLS NOT DISTINCT (%s)) WITH (fillfactor = 80)', tname, rcols, gkey);
			-- (with kept percentiles: the rows it touched, by ctid)
			refresh := refresh || pg_catalog.format(
				' %5$s INSERT INTO %1$s AS r SELECT %2$s FROM (SELECT -1 AS _sign, o.* FROM pg_catalog.unnest(olds) AS o'
				'  UNION ALL SELECT 1, x.* FROM pg_catalog.unnest(news) AS x) AS d GROUP BY %3$s ORDER BY %3$s'
				' ON CONFLICT (%3$s) DO UPDATE SET %4$s%6$s;',
				tname, rsel, g, rupd, CASE WHEN rkept <> '' THEN 'WITH u AS (' ELSE '' END,
				CASE WHEN rkept <> '' THEN ' RETURNING r.ctid AS t) SELECT pg_catalog.array_agg(u.t) INTO touched FROM u' ELSE '' END);
			rverify := pg_catalog.format('SELECT %1$s FROM (SELECT 1 AS _sign, x.* FROM %2$s AS x) AS d GROUP BY %3$s',
				rsel, ftab, g);
			build := build || pg_catalog.format(' DELETE FROM %1$s; INSERT INTO %1$s %2$s;', tname, rverify);
			rverify := pg_catalog.format('SELECT %1$s FROM (SELECT 1 AS _sign, x.* FROM %2$s AS x) AS d GROUP BY %3$s',
				rsel || rkept, ftab, g);
			-- the value histograms of this rollup: (value, bucket, count) per
			-- row, a row deleted when its count reaches 0; ordered by bucket,
			-- then value (a bucket is a range of values). Where the rollup
			-- keeps them, also the bucket counts (hb_): how many facts of the
			-- rollup row fall in each bucket, so that a percentile reads the
			-- values of one bucket, not all
			FOR kv IN SELECT key, value FROM jsonb_each(hists) WHERE @extschema@._model_histograms(rec.value)
					ORDER BY (value->>'i')::integer
			LOOP
				tname2 := 'h_' || fact.name || '_' || rec.key || '_' || (kv.value->>'i');
				IF pg_catalog.length(tname2) > 62 THEN
					RAISE EXCEPTION 'model %: rollup %: the table % is too long a name', mname, rec.key, tname2
						USING ERRCODE = 'name_too_long';
				END IF;
				-- (not INCLUDE (_count), which would read a bucket's values from
				-- the index alone: a count's update would no longer be HOT, and
				-- the apply pays for that on every batch)
				EXECUTE pg_catalog.format('CREATE TABLE %s.%I (%s, _value %s NOT NULL, _bucket integer NOT NULL, _count bigint NOT NULL,'
					' UNIQUE NULLS NOT DISTINCT (%s, _bucket, _value)) WITH (fillfactor = 90)', m, tname2, hcols, kv.value->>'type', gkey);
				EXECUTE pg_catalog.format('COMMENT ON TABLE %s.%I IS %L', m, tname2, pg_catalog.format(
					'how many %s facts per %s%s have each value of %s (where %s); read by %s', fact.name, grain,
					(SELECT coalesce(string_agg(', ' || b, ''), '') FROM unnest(bys) b), kv.value->>'of', kv.value->>'filter',
					(SELECT string_agg(x, ', ') FROM jsonb_array_elements_text(kv.value->'measures') x)));
				-- (value, bucket, count) of the facts d, or the counts per bucket
				-- (no second format() over them: an expression may hold a %)
				FOR i IN 1 .. 4
				LOOP
					body := CASE WHEN i % 2 = 1 THEN '(SELECT -1 AS _sign, o.* FROM pg_catalog.unnest(olds) AS o'
						' UNION ALL SELECT 1, x.* FROM pg_catalog.unnest(news) AS x)' ELSE ftab END;
					body := pg_catalog.format('SELECT %1$s%2$s, %3$s AS _bucket, %4$s FROM %5$s AS d WHERE (%6$s) IS TRUE AND (%7$s) IS NOT NULL'
						' GROUP BY %8$s%9$s, _bucket', rgroup, CASE WHEN i <= 2 THEN ', ' || (kv.value->>'of') || ' AS _value' ELSE '' END,
						kv.value->>'bucket', CASE WHEN i % 2 = 1 THEN 'pg_catalog.sum(_sign)' ELSE 'pg_catalog.count(*)' END,
						body, kv.value->>'filter', kv.value->>'of', g, CASE WHEN i <= 2 THEN ', _value' ELSE '' END);
					CASE i WHEN 1 THEN refresh_h := body; WHEN 2 THEN e := body; WHEN 3 THEN refresh_b := body; ELSE verify_b := body; END CASE;
				END LOOP;
				-- the signed counts of the changed facts added in key order, rows
				-- at a count of 0 deleted (for the value rows and the buckets)
				upsert := ' WITH u AS (INSERT INTO %1$s.%2$I AS r %3$s HAVING pg_catalog.sum(_sign) <> 0 ORDER BY %4$s'
					'  ON CONFLICT (%4$s) DO UPDATE SET _count = r._count + excluded._count RETURNING r.ctid AS t, r._count AS c)'
					' SELECT pg_catalog.array_agg(u.t) INTO zeros FROM u WHERE u.c = 0;'
					' DELETE FROM %1$s.%2$I AS r WHERE r.ctid = ANY (zeros);';
				refresh := refresh || pg_catalog.format(upsert, m, tname2, refresh_h, g || ', _bucket, _value');
				-- the kept percentiles that read this histogram: one read of it
				-- per rollup row for all of them (_model_kept_sql)
				SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x.key || '_v'), ', ' ORDER BY x.key),
					   pg_catalog.array_agg(x.value->>'frac' ORDER BY x.key), pg_catalog.min(x.value->>'cast')
				INTO kcols, kfracs, kcast FROM jsonb_each(minfo) AS x
				WHERE (f->'measures') ? x.key AND x.value->>'kind' = 'percentile'
				  AND x.value->>'hist' = kv.value->>'i' AND @extschema@._model_kept(rec.value, kv.value);
				IF kcols IS NOT NULL THEN
					kset := kset || CASE WHEN kset = '' THEN '' ELSE ', ' END || pg_catalog.format('(%s) = %s', kcols,
						@extschema@._model_kept_sql(pg_catalog.format('(SELECT h._value, h._bucket, h._count FROM %1$s.%2$I AS h'
							' WHERE %3$s AND %4$s UNION ALL SELECT h._value, h._bucket, h._count FROM %1$s.%2$I AS h'
							' WHERE NOT (%3$s) AND %5$s) AS h', m, tname2, hc.keyed, hc.eq, hc.nullsafe), kfracs, kcast));
				END IF;
				-- (built in index order: a bucket's rows share heap pages, so a
				-- percentile reads a few pages, not one per value)
				build := build || pg_catalog.format(' DELETE FROM %1$s.%2$I; INSERT INTO %1$s.%2$I %3$s ORDER BY %4$s, _bucket, _value;',
					m, tname2, e, g);
				verify := verify || pg_catalog.format(
					' UNION ALL SELECT %1$L, ''differs'', pg_catalog.row_to_json(x)::text FROM'
					' ((SELECT * FROM %2$s.%1$I EXCEPT %3$s) UNION ALL (%3$s EXCEPT SELECT * FROM %2$s.%1$I)) x',
					tname2, m, e);
				CONTINUE WHEN NOT @extschema@._model_bucketed(rec.value, kv.value);
				tname2 := 'hb' || pg_catalog.substr(tname2, 2);
				EXECUTE pg_catalog.format('CREATE TABLE %s.%I (%s, _bucket integer NOT NULL, _count bigint NOT NULL,'
					' UNIQUE NULLS NOT DISTINCT (%s, _bucket)) WITH (fillfactor = 90)', m, tname2, hcols, gkey);
				EXECUTE pg_catalog.format('COMMENT ON TABLE %s.%I IS %L', m, tname2, pg_catalog.format(
					'how many of the values counted in %s fall in each bucket (_buckets.%I)', 'h' || pg_catalog.substr(tname2, 3),
					fact.name || '_' || (kv.value->>'i')));
				refresh := refresh || pg_catalog.format(upsert, m, tname2, refresh_b, g || ', _bucket');
				-- built from the value rows just built
				build := build || pg_catalog.format(' DELETE FROM %1$s.%2$I; INSERT INTO %1$s.%2$I SELECT %3$s, _bucket, pg_catalog.sum(_count)'
					' FROM %1$s.%4$I GROUP BY %3$s, _bucket ORDER BY %3$s, _bucket;', m, tname2, g, 'h' || pg_catalog.substr(tname2, 3));
				verify := verify || pg_catalog.format(
					' UNION ALL SELECT %1$L, ''differs'', pg_catalog.row_to_json(x)::text FROM'
					' ((SELECT * FROM %2$s.%1$I EXCEPT %3$s) UNION ALL (%3$s EXCEPT SELECT * FROM %2$s.%1$I)) x',
					tname2, m, verify_b);
			END LOOP;
			IF kset <> '' THEN
				refresh := refresh || pg_catalog.format(' UPDATE %s AS r SET %s WHERE r.ctid = ANY (touched);', tname, kset);
				build := build || pg_catalog.format(' UPDATE %s AS r SET %s;', tname, kset);
			END IF;
			refresh := refresh || rfix;
			-- <fact>_by_<rollup>(p_from, p_to): its rows, every measure of the fact
			fn := fact.name || '_by_' || rec.key;
			IF fn = ANY (measure_names) OR pg_catalog.length(fn) > 63 THEN
				RAISE EXCEPTION 'model %: rollup %: the function % clashes with a measure or is too long', mname, rec.key, fn
					USING ERRCODE = 'duplicate_function';
			END IF;
			reader_fns := reader_fns || fn;
			rcols := 'period date';
			rsel := 'r.period';
			-- optional filters, one per by column: p_<column> (NULL for all)
			params := 'p_from date DEFAULT NULL, p_to date DEFAULT NULL';
			pcond := '';
			FOREACH e IN ARRAY bys
			LOOP
				-- the function reads its columns first (use_column): a column
				-- named like a parameter would silently replace it
				IF e IN ('p_from', 'p_to') OR e LIKE 'p\_%' AND pg_catalog.substr(e, 3) = ANY (bys) THEN
					RAISE EXCEPTION 'model %: rollup %: the by column % has the name of a parameter of %', mname, rec.key, e, fn
						USING ERRCODE = 'duplicate_column';
				END IF;
				EXECUTE pg_catalog.format('SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a'
					' WHERE a.attrelid = %L::regclass AND a.attname = %L', ftab, e) INTO tname2;
				rcols := rcols || pg_catalog.format(', %I %s', e, tname2);
				rsel := rsel || pg_catalog.format(', r.%I', e);
				params := params || pg_catalog.format(', %I %s DEFAULT NULL', 'p_' || e, tname2);
				pcond := pcond || pg_catalog.format(' AND (%1$I IS NULL OR r.%2$I = %1$I)', 'p_' || e, e);
			END LOOP;
			agg := '';			-- the middle list: ratios of the inner columns
			body := '';			-- the outer list: formulas of those
			rsel_cheap := rsel;
			heavy := '{}';
			fast_sel := rsel;	-- the ranked rows r: their columns, the heavy ones computed
			-- what a ranking index can hold: period, by columns, cheap measures
			orderable := (SELECT jsonb_object_agg(b, pg_catalog.format('r.%I', b)) FROM unnest(bys || 'period'::text) b);
			FOR kv IN SELECT key, value FROM jsonb_each(minfo) WHERE (f->'measures') ? key
			LOOP
				rcols := rcols || pg_catalog.format(', %I %s', kv.key, kv.value->>'rt');
				body := body || CASE WHEN kv.value->>'kind' = 'formula' THEN ', ' || (kv.value->>'formula')
					ELSE pg_catalog.format(', y.%I', kv.key) END;
				IF kv.value->>'kind' IN ('ratio', 'formula') THEN
					fast_sel := fast_sel || pg_catalog.format(', r.%I', kv.key);
				END IF;
				agg := agg || CASE WHEN kv.value->>'kind' = 'ratio'
					THEN pg_catalog.format(', (x.%I)::numeric / NULLIF((x.%I)::numeric, 0) AS %I', kv.value->>'num', kv.value->>'den', kv.key)
					ELSE '' END;
				CONTINUE WHEN kv.value->>'kind' IN ('ratio', 'formula');
				e := CASE kv.value->>'kind'
					WHEN 'count' THEN pg_catalog.format('r.%I', kv.key || '_n')
					WHEN 'avg' THEN CASE WHEN (kv.value->>'interval')::boolean
						THEN pg_catalog.format('CASE WHEN r.%1$I > 0 THEN r.%2$I / r.%1$I::float8 END', kv.key || '_n', kv.key || '_v')
						ELSE pg_catalog.format('((r.%2$I)::numeric / NULLIF(r.%1$I, 0))::%3$s', kv.key || '_n', kv.key || '_v', kv.value->>'rt') END
					WHEN 'count_distinct' THEN '' WHEN 'percentile' THEN ''
					ELSE pg_catalog.format('CASE WHEN r.%I > 0 THEN r.%I END', kv.key || '_n', kv.key || '_v') END;
				-- from the row's value histogram (h), as the measure functions
				-- compute them over one row's (value, count) pairs; by plain
				-- equality on the histogram's unique index where the row has no
				-- NULL key (the null-safe form is served by its first column only)
				tname2 := CASE WHEN kv.value->>'hist' IS NOT NULL
					THEN pg_catalog.format('%s.%I', m, 'h_' || fact.name || '_' || rec.key || '_' || (kv.value->>'hist')) END;
				-- a percentile kept in the row (_model_kept): its column
				kept := kv.value->>'kind' = 'percentile' AND @extschema@._model_kept(rec.value,
					(SELECT x.value FROM jsonb_each(hists) AS x WHERE x.value->>'i' = kv.value->>'hist'));
				IF kv.value->>'kind' IN ('count_distinct', 'percentile') AND NOT @extschema@._model_histograms(rec.value) THEN
					-- a rollup without histograms: from the row's facts
					e := pg_catalog.format('(SELECT %s FROM %s AS f WHERE %s%s)::%s', kv.value->>'fagg', ftab, pmatch, cond, kv.value->>'rt');
				ELSIF kept THEN
					e := pg_catalog.format('r.%I', kv.key || '_v');
				ELSIF kv.value->>'kind' = 'count_distinct' THEN
					e := pg_catalog.format('CASE WHEN %1$s THEN (SELECT pg_catalog.count(*) FROM %2$s AS h WHERE %3$s)'
						' ELSE (SELECT pg_catalog.count(*) FROM %2$s AS h WHERE %4$s) END', hc.keyed, tname2, hc.eq, hc.nullsafe);
				ELSIF kv.value->>'kind' = 'percentile' THEN
					-- with the row's bucket counts where the rollup keeps them
					bfrom := CASE WHEN @extschema@._model_bucketed(rec.value,
							(SELECT x.value FROM jsonb_each(hists) AS x WHERE x.value->>'i' = kv.value->>'hist'))
						THEN pg_catalog.format('%s.%I', m, 'hb_' || fact.name || '_' || rec.key || '_' || (kv.value->>'hist')) END;
					e := pg_catalog.format('(CASE WHEN %s THEN %s ELSE %s END)::%s', hc.keyed,
						@extschema@._model_percentile(bfrom || ' AS h WHERE ' || hc.eq,
							tname2 || ' AS h WHERE ' || hc.eq || CASE WHEN bfrom IS NULL THEN ''
								ELSE ' AND h._bucket BETWEEN (SELECT w.b1 FROM w) AND (SELECT w.b2 FROM w)' END,
							kv.value->>'frac', kv.value->>'cast', true),
						@extschema@._model_percentile(bfrom || ' AS h WHERE ' || hc.nullsafe,
							tname2 || ' AS h WHERE ' || hc.nullsafe || CASE WHEN bfrom IS NULL THEN ''
								ELSE ' AND h._bucket BETWEEN (SELECT w.b1 FROM w) AND (SELECT w.b2 FROM w)' END,
							kv.value->>'frac', kv.value->>'cast', true),
						kv.value->>'rt');
				END IF;
				rsel := rsel || ', ' || e || pg_catalog.format(' AS %I', kv.key);
				-- a ranking reads the rollup without these (a histogram read
				-- per row) and computes them for the rows it returns only
				IF kv.value->>'kind' IN ('count_distinct', 'percentile') AND NOT kept THEN
					rsel_cheap := rsel_cheap || pg_catalog.format(', NULL::%s AS %I', kv.value->>'rt', kv.key);
					heavy := heavy || jsonb_build_object(kv.key, e);
					fast_sel := fast_sel || ', ' || e || pg_catalog.format(' AS %I', kv.key);
				ELSE
					rsel_cheap := rsel_cheap || ', ' || e || pg_catalog.format(' AS %I', kv.key);
					fast_sel := fast_sel || pg_catalog.format(', r.%I', kv.key);
					orderable := orderable || jsonb_build_object(kv.key, e);
				END IF;
			END LOOP;
			rollup_cols := rollup_cols || jsonb_build_object(rec.key, rcols);
			e := 'SELECT y.period%s%s FROM (SELECT x.*%s FROM (SELECT %s FROM %s AS r WHERE r.n <> 0'
					' AND (p_from IS NULL OR r.period >= p_from) AND (p_to IS NULL OR r.period <= p_to)%s) AS x) AS y ORDER BY %s';
			-- a ranking's query: its filters on rollup rows r go between the
			-- two halves (no second format(): an expression may hold a %); no
			-- ORDER BY (the ranking sorts)
			rollup_fast := rollup_fast || jsonb_build_object(rec.key, jsonb_build_object('heavy', heavy, 'select', fast_sel,
				'head', pg_catalog.format(pg_catalog.split_part(e, '%s) AS x)', 1),
					(SELECT coalesce(string_agg(pg_catalog.format(', y.%I', b), ''), '') FROM unnest(bys) b),
					body, agg, rsel_cheap, tname),
				'tail', ') AS x) AS y', 'table', tname, 'orderable', orderable));
			-- planned for each call's arguments, so that a filter on a by
			-- column reads the rollup's unique index, not every row
			EXECUTE pg_catalog.format('CREATE FUNCTION %s.%I(%s) RETURNS TABLE (%s)'
				' LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %L',
				m, fn, params, rcols,
				'#variable_conflict use_column' || chr(10) || 'BEGIN RETURN QUERY ' ||
				pg_catalog.format(e, (SELECT coalesce(string_agg(pg_catalog.format(', y.%I', b), ''), '') FROM unnest(bys) b),
					body, agg, rsel, tname, pcond, g) || '; END');
			EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.%I(%s) IS %L', m, fn,
				pg_catalog.regexp_replace(params, ' DEFAULT NULL', '', 'g'),
				coalesce(rec.value->>'comment' || ' -- ', '') ||
				pg_catalog.format('every measure of the %s facts per %s%s; the measures as in their own functions',
					fact.name, CASE WHEN grain = 'all' THEN coalesce(NULLIF(pg_catalog.array_to_string(bys, ', '), ''), 'one row') || ' over the whole time (period NULL)'
						ELSE pg_catalog.format('%s%s, for the %s periods starting from p_from to p_to (NULL: all)', grain,
							(SELECT coalesce(string_agg(', ' || b, ''), '') FROM unnest(bys) b), grain) END,
					CASE WHEN cardinality(bys) = 0 THEN ''
						 ELSE '; only the rows whose ' || pg_catalog.array_to_string(bys, ', ') || ' equal p_' ||
							pg_catalog.array_to_string(bys, ', p_') || ' where given (NULL: all)' END));
			-- verify: the kept rows (with any rows) equal a recompute from the facts
			verify := verify || pg_catalog.format(
				' UNION ALL SELECT %1$L, ''differs'', pg_catalog.row_to_json(x)::text FROM'
				' ((SELECT * FROM %2$s WHERE n <> 0 EXCEPT %3$s) UNION ALL (%3$s EXCEPT SELECT * FROM %2$s WHERE n <> 0)) x',
				'r_' || fact.name || '_' || rec.key, tname, rverify);
		END LOOP;
		-- rankings: the first rows of a rollup's table function per group
		FOR rec IN SELECT key, value FROM jsonb_each(coalesce(f->'rankings', '{}'))
		LOOP
			PERFORM @extschema@._model_name(rec.key, 'a ranking of fact ' || fact.name);
			IF rec.key = ANY (measure_names || reader_fns) OR NOT rollup_cols ? (rec.value->>'rollup')
			   OR jsonb_typeof(rec.value->'limit') IS DISTINCT FROM 'number' OR rec.value->>'order' IS NULL THEN
				RAISE EXCEPTION 'model %: ranking %: needs a new name, "rollup" (a rollup of fact %), "order" and a numeric "limit"',
					mname, rec.key, fact.name USING ERRCODE = 'invalid_parameter_value';
			END IF;
			reader_fns := reader_fns || rec.key;
			SELECT coalesce(array_agg(pg_catalog.replace(b, '.', '_') ORDER BY n), '{}') INTO bys
			FROM jsonb_array_elements_text(coalesce(rec.value->'within', '[]')) WITH ORDINALITY AS x(b, n);
			params := 'p_from date DEFAULT NULL, p_to date DEFAULT NULL';
			pcond := '';
			pargs := '';
			cond := CASE WHEN rec.value->>'having' IS NULL THEN 'true'
						 ELSE @extschema@._model_expr(rec.value->>'having', 'ranking ' || rec.key || ' "having"') END;
			FOREACH e IN ARRAY bys
			LOOP
				IF NOT e = ANY (all_by) THEN
					RAISE EXCEPTION 'model %: ranking %: "within" names no "by" column % of the rollup', mname, rec.key, e
						USING ERRCODE = 'undefined_column';
				END IF;
				EXECUTE pg_catalog.format('SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a'
					' WHERE a.attrelid = %L::regclass AND a.attname = %L', ftab, e) INTO tname2;
				params := params || pg_catalog.format(', %I %s DEFAULT NULL', 'p_' || e, tname2);
				pcond := pcond || pg_catalog.format(' AND (%1$I IS NULL OR r.%2$I = %1$I)', 'p_' || e, e);
				pargs := pargs || pg_catalog.format(', %1$I => %1$I', 'p_' || e);
			END LOOP;
			-- the rows ranked without their histogram reads, which are made for
			-- the rows returned only, unless the order, the condition or a ratio
			-- or formula of the fact names a measure that needs them; the
			-- "within" filters read the rollup's unique index (a custom plan)
			ord := pg_catalog.substr(@extschema@._model_expr(rec.value->>'order', 'ranking ' || rec.key || ' "order"'), 2,
				pg_catalog.length(rec.value->>'order'));
			e := pg_catalog.format('%s.%I(p_from, p_to%s)', m, fact.name || '_by_' || (rec.value->>'rollup'), pargs);
			body := 'SELECT * FROM x';
			rf := rollup_fast->(rec.value->>'rollup');
			icols := NULL;
			IF NOT EXISTS (SELECT FROM jsonb_object_keys(rf->'heavy') AS hv(k)
						   WHERE concat_ws(' ', rec.value->>'order', rec.value->>'having',
								(SELECT string_agg(concat_ws(' ', x.value->>'num', x.value->>'den', x.value->>'formula'), ' ')
								 FROM jsonb_each(minfo) AS x WHERE (f->'measures') ? x.key)) ~ ('\m' || hv.k || '\M')) THEN
				e := '(' || (rf->>'head') || pcond || (rf->>'tail') || ')';
				body := 'SELECT r.rank, ' || (rf->>'select') || ' FROM x AS r';
				-- an order of plain terms (name [ASC|DESC] [NULLS FIRST|LAST])
				-- over columns and cheap measures: an index of the rollup by the
				-- within columns, then the order, serves each group's first rows
				SELECT CASE WHEN bool_and(rf->'orderable' ? pg_catalog.lower(t.p[1])) THEN
						pg_catalog.string_agg(pg_catalog.format('(%s)%s%s',
							pg_catalog.regexp_replace(rf->'orderable'->>pg_catalog.lower(t.p[1]), '\mr\.', '', 'g'),
							' ' || pg_catalog.upper(t.p[2]), ' NULLS ' || pg_catalog.upper(t.p[3])), ', ' ORDER BY t.n) END
				INTO icols
				FROM (SELECT x.n, pg_catalog.regexp_match(x.term,
						'^\s*([a-z_][a-z0-9_]*)\s*(asc|desc)?\s*(?:nulls\s+(first|last))?\s*$', 'i') AS p
					  FROM pg_catalog.regexp_split_to_table(rec.value->>'order', ',') WITH ORDINALITY AS x(term, n)) AS t
				HAVING bool_and(t.p IS NOT NULL);
			END IF;
			IF icols IS NOT NULL THEN
				BEGIN
					EXECUTE pg_catalog.format('CREATE INDEX ON %s (%s) WHERE n <> 0', rf->>'table',
						(SELECT coalesce(string_agg(pg_catalog.format('%I, ', b), ''), '') FROM unnest(bys) b) || icols);
					IF cardinality(bys) > 0 THEN
						EXECUTE pg_catalog.format('CREATE INDEX ON %s (%s) WHERE n <> 0 AND (%s)', rf->>'table',
							(SELECT string_agg(pg_catalog.format('%I', b), ', ') FROM unnest(bys) b),
							(SELECT string_agg(pg_catalog.format('%I IS NULL', b), ' OR ') FROM unnest(bys) b));
					END IF;
				EXCEPTION WHEN others THEN
					icols := NULL;		-- an order no index can hold: the rows ranked as a whole
				END;
			END IF;
			IF icols IS NOT NULL THEN
				-- the first rows of each group: per group (a skip scan over the
				-- index for the groups without a NULL key, the others from an
				-- index of their own) the index in order, "having" as a filter
				-- (\group: where the group's condition goes; no expression holds a
				-- backslash). For the calls without any filter: a query without
				-- parameters, whose plan is kept for the session; a call with
				-- filters ranks the rows they leave (by the unique index)
				xq := pg_catalog.format('(SELECT b.* FROM %s AS b WHERE %s ORDER BY %s LIMIT %s)',
					'(' || pg_catalog.replace(rf->>'head',
						' AND (p_from IS NULL OR r.period >= p_from) AND (p_to IS NULL OR r.period <= p_to)', '')
						|| '\group' || (rf->>'tail') || ')',
					cond, ord, (rec.value->>'limit')::integer);
				IF cardinality(bys) = 0 THEN
					xq := pg_catalog.replace(xq, '\group', '') || ' AS b';
				ELSE
					SELECT pg_catalog.format('(WITH RECURSIVE s AS ((SELECT %1$s FROM %2$s AS r WHERE r.n <> 0 AND %3$s ORDER BY %4$s LIMIT 1)'
							' UNION ALL SELECT q.* FROM s, LATERAL (SELECT %1$s FROM %2$s AS r WHERE r.n <> 0 AND %3$s'
							'  AND (%4$s) > (%5$s) ORDER BY %4$s LIMIT 1) AS q)'
							' SELECT * FROM s UNION ALL SELECT DISTINCT %1$s FROM %2$s AS r WHERE r.n <> 0 AND NOT (%3$s)) AS gq'
							' CROSS JOIN LATERAL (%6$s UNION ALL %7$s) AS b',
							string_agg(pg_catalog.format('r.%I AS %I', x.b, '_g' || x.n), ', ' ORDER BY x.n), rf->>'table',
							string_agg(pg_catalog.format('r.%I IS NOT NULL', x.b), ' AND ' ORDER BY x.n),
							string_agg(pg_catalog.format('r.%I', x.b), ', ' ORDER BY x.n),
							string_agg(pg_catalog.format('s.%I', '_g' || x.n), ', ' ORDER BY x.n),
							pg_catalog.replace(xq, '\group', ' AND ' || string_agg(pg_catalog.format('gq.%I IS NOT NULL', '_g' || x.n), ' AND ' ORDER BY x.n)
								|| string_agg(pg_catalog.format(' AND r.%I = gq.%I', x.b, '_g' || x.n), '' ORDER BY x.n)),
							pg_catalog.replace(xq, '\group', ' AND NOT (' || string_agg(pg_catalog.format('gq.%I IS NOT NULL', '_g' || x.n), ' AND ' ORDER BY x.n)
								|| ') AND NOT (' || string_agg(pg_catalog.format('r.%I IS NOT NULL', x.b), ' AND ' ORDER BY x.n) || ')'
								|| string_agg(pg_catalog.format(' AND (r.%1$I = gq.%2$I OR r.%1$I IS NULL AND gq.%2$I IS NULL)', x.b, '_g' || x.n), '' ORDER BY x.n)))
					INTO xq FROM unnest(bys) WITH ORDINALITY AS x(b, n);
				END IF;
				xqs := ARRAY[pg_catalog.format('SELECT pg_catalog.row_number() OVER (%s ORDER BY %s) AS rank, b.* FROM %s',
					CASE WHEN cardinality(bys) = 0 THEN ''
						 ELSE 'PARTITION BY ' || (SELECT string_agg(pg_catalog.format('b.%I', b), ', ') FROM unnest(bys) b) END,
					ord, xq)];
			ELSE
				xqs := '{}';
			END IF;
			xqs := xqs || pg_catalog.format('SELECT * FROM (SELECT pg_catalog.row_number() OVER (%s ORDER BY %s) AS rank, b.*'
				' FROM %s AS b WHERE %s) AS x WHERE x.rank <= %s',
				CASE WHEN cardinality(bys) = 0 THEN ''
					 ELSE 'PARTITION BY ' || (SELECT string_agg(pg_catalog.format('b.%I', b), ', ') FROM unnest(bys) b) END,
				ord, e, cond, (rec.value->>'limit')::integer);
			-- the query of each variant, in order
			SELECT pg_catalog.array_agg('RETURN QUERY WITH x AS (' || q.x || ') ' || body || ' ORDER BY '
					|| (SELECT coalesce(string_agg(pg_catalog.format('%I, ', b), ''), '') FROM unnest(bys) b) || 'rank;' ORDER BY q.n)
			INTO xqs FROM unnest(xqs) WITH ORDINALITY AS q(x, n);
			BEGIN
				EXECUTE pg_catalog.format('CREATE FUNCTION %s.%I(%s) RETURNS TABLE (rank bigint, %s) LANGUAGE plpgsql STABLE'
					' SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %L',
					m, rec.key, params, rollup_cols->>(rec.value->>'rollup'),
					'#variable_conflict use_column' || chr(10) || 'BEGIN ' || CASE WHEN cardinality(xqs) = 1 THEN xqs[1]
						ELSE 'IF p_from IS NULL AND p_to IS NULL' || (SELECT coalesce(string_agg(pg_catalog.format(' AND %I IS NULL', 'p_' || b), ''), '')
							FROM unnest(bys) b) || ' THEN ' || xqs[1] || ' ELSE ' || xqs[2] || ' END IF;' END || ' END');
				-- (plpgsql checks its queries when run: once now, over empty tables)
				EXECUTE pg_catalog.format('SELECT pg_catalog.count(*) FROM %s.%I()', m, rec.key);
			EXCEPTION WHEN others THEN
				RAISE EXCEPTION 'model %: ranking %: %', mname, rec.key, SQLERRM USING ERRCODE = 'invalid_parameter_value';
			END;
			EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.%I(%s) IS %L', m, rec.key,
				pg_catalog.regexp_replace(params, ' DEFAULT NULL', '', 'g'),
				coalesce(rec.value->>'comment', pg_catalog.format('the first %s rows of %s_by_%s%s by %s%s', rec.value->>'limit',
					fact.name, rec.value->>'rollup', CASE WHEN cardinality(bys) > 0 THEN ' per ' || array_to_string(bys, ', ') ELSE '' END,
					rec.value->>'order', coalesce(' among those where ' || (rec.value->>'having'), ''))));
		END LOOP;

		-- the fact's refresh: replace the rows of keys k, roll the difference up
		EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.%2$I(k %3$s[]) RETURNS void LANGUAGE plpgsql
			SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %4$L$f$,
			m, '_refresh_' || fact.name, src.key_type,
			-- only the facts that change are written, rolled up and passed on
			pg_catalog.format('DECLARE olds %1$s[]; news %1$s[]; changed %9$s[]; zeros tid[]; touched tid[]; BEGIN'
				' IF $1 IS NULL THEN %5$s RETURN; END IF;'
				' news := ARRAY(SELECT ROW(r.*)::%1$s FROM (%8$s) AS r);'
				' olds := ARRAY(SELECT f FROM %1$s AS f WHERE f.%2$I = ANY ($1));'
				' changed := ARRAY(SELECT coalesce(n.%2$I, o.%2$I) FROM pg_catalog.unnest(news) AS n'
				'  FULL JOIN pg_catalog.unnest(olds) AS o ON o.%2$I = n.%2$I WHERE n::text IS DISTINCT FROM o::text);'
				' IF pg_catalog.cardinality(changed) = 0 THEN RETURN; END IF;'
				' olds := ARRAY(SELECT o FROM pg_catalog.unnest(olds) AS o WHERE o.%2$I = ANY (changed));'
				' news := ARRAY(SELECT n FROM pg_catalog.unnest(news) AS n WHERE n.%2$I = ANY (changed));'
				' DELETE FROM %1$s AS f WHERE f.%2$I = ANY (changed);'
				' INSERT INTO %1$s SELECT * FROM pg_catalog.unnest(news);'
				' %6$s PERFORM %3$s.%7$I(changed); END',
				ftab, src.key_col, m, '_rows_' || fact.name,
				pg_catalog.format('DELETE FROM %1$s; INSERT INTO %1$s SELECT * FROM %2$s.%3$I(NULL); %4$s PERFORM %2$s.%5$I(NULL);',
					ftab, m, '_rows_' || fact.name, build, '_cascade_' || fact.name),
				refresh, '_cascade_' || fact.name, rows_sql, src.key_type));
		rebuild := rebuild || pg_catalog.format(' PERFORM %s.%I(NULL);', m, '_refresh_' || fact.name);
		verify := verify || pg_catalog.format(
			' UNION ALL SELECT %1$L, ''missing'', pg_catalog.row_to_json(x)::text FROM'
			' (SELECT * FROM %2$s.%3$I(NULL) EXCEPT SELECT * FROM %4$s) x'
			' UNION ALL SELECT %1$L, ''extra'', pg_catalog.row_to_json(x)::text FROM'
			' (SELECT * FROM %4$s EXCEPT SELECT * FROM %2$s.%3$I(NULL)) x',
			'f_' || fact.name, m, '_rows_' || fact.name, ftab);

		-- the fact's landing table: its statement-level triggers
		EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.%2$I() RETURNS trigger LANGUAGE plpgsql
			SET search_path = pg_catalog, pg_temp AS %3$L$f$,
			m, '_on_' || fact.name,
			pg_catalog.format('DECLARE k %1$s[]; BEGIN'
				' PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext(%2$L));'
				' %7$s'
				' PERFORM %4$s.%5$I(k);'
				' UPDATE %4$s._state SET last_change_at = pg_catalog.now(), statements = statements + 1,'
				'  rows_changed = rows_changed + coalesce(pg_catalog.cardinality(k), 0) WHERE source = %6$L;'
				' RETURN NULL; END',
				src.key_type, mname, src.key_col, m, '_refresh_' || fact.name, f->>'table',
				@extschema@._model_trigger_keys(src.key_col, src.rel, rb, rs, ffilter)));
		PERFORM @extschema@._model_triggers(src.rel::regclass, mname, pg_catalog.format('%s.%I', m, '_on_' || fact.name));
	END LOOP;

	------------------------------------------------------------------
	-- dimension changes reach the facts that reference them
	------------------------------------------------------------------
	FOR fact IN SELECT key AS name, value AS def FROM jsonb_each(facts_info)
	LOOP
		-- the facts that show this fact's rows through a dimension follow it
		SELECT coalesce(string_agg(x, ' '), '') INTO body FROM jsonb_each(dims_scd) AS dd,
			jsonb_array_elements_text(refreshes->dd.key) AS x WHERE dd.value->>'fact' = fact.name;
		SELECT coalesce(string_agg(x, ' '), '') INTO e FROM jsonb_each(dims_scd) AS dd,
			jsonb_array_elements_text(refreshes_all->dd.key) AS x WHERE dd.value->>'fact' = fact.name;
		EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.%2$I(k %3$s[]) RETURNS void LANGUAGE plpgsql
			SET search_path = pg_catalog, pg_temp AS %4$L$f$, m, '_cascade_' || fact.name, fact.def->>'key_type',
			pg_catalog.format('BEGIN IF k IS NULL THEN %s ELSE %s END IF; END', e, body));
	END LOOP;
	FOR dim IN SELECT key AS name, value AS def FROM jsonb_each(dims_scd) WHERE NOT value ? 'fact'
	LOOP
		body := coalesce((SELECT string_agg(x, ' ') FROM jsonb_array_elements_text(refreshes->dim.name) AS x), '');
		IF dim.def->>'scd' = '2' THEN
			body := coalesce((SELECT string_agg(x, ' ') FROM jsonb_array_elements_text(refreshes_since->dim.name) AS x), '');
			-- every version arrives in the history: the keys' versions are rebuilt from it
			EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.%2$I() RETURNS trigger LANGUAGE plpgsql
				SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %3$L$f$,
				m, '_on_' || dim.name,
				-- the facts to look at again: per key, those as of the earliest
				-- effective time among its new versions; all of them when that is
				-- at or before its first version (the facts before the first
				-- version take the first), or the key was deleted or truncated
				pg_catalog.format('DECLARE walstar_keys %1$s[]; walstar_n bigint; walstar_moved %1$s[];'
					' walstar_since timestamptz[]; walstar_truncated boolean; BEGIN'
					' PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext(%2$L));'
					' SELECT pg_catalog.count(*) INTO walstar_n FROM new_rows;'
					' walstar_truncated := EXISTS (SELECT FROM new_rows WHERE walstar_op = ''T'');'
					' IF walstar_truncated THEN'
					'  walstar_keys := ARRAY(SELECT d.%3$I FROM %4$s.%5$I d UNION SELECT n.%3$I FROM new_rows n WHERE n.%3$I IS NOT NULL);'
					' ELSE walstar_keys := ARRAY(SELECT DISTINCT n.%3$I FROM new_rows n); END IF;'
					' SELECT pg_catalog.array_agg(c.k), pg_catalog.array_agg(c.since) INTO walstar_moved, walstar_since FROM ('
					'  SELECT kk.k, CASE WHEN walstar_truncated OR n.gone OR n.since <= coalesce(o.first, ''infinity'')'
					'   THEN ''-infinity''::timestamptz ELSE n.since END AS since'
					'  FROM pg_catalog.unnest(walstar_keys) AS kk(k)'
					'  LEFT JOIN (SELECT n.%3$I AS k, pg_catalog.bool_or(n.walstar_op = ''D'') AS gone,'
					'    pg_catalog.min((%9$s)::timestamptz) FILTER (WHERE n.walstar_op IN (''I'', ''U'', ''R'')) AS since'
					'   FROM new_rows AS n GROUP BY 1) AS n ON n.k = kk.k'
					'  LEFT JOIN LATERAL (SELECT d.valid_from AS first FROM %4$s.%5$I AS d WHERE d.%3$I = kk.k'
					'   ORDER BY d.valid_from LIMIT 1) AS o ON true'
					'  WHERE walstar_truncated OR n.gone OR n.since IS NOT NULL) AS c;'
					' DELETE FROM %4$s.%5$I AS d WHERE d.%3$I = ANY (walstar_keys);'
					' INSERT INTO %4$s.%5$I %6$s;'
					' IF walstar_moved IS NOT NULL THEN %7$s END IF;'
					' UPDATE %4$s._state SET last_change_at = pg_catalog.now(), statements = statements + 1,'
					'  rows_changed = rows_changed + walstar_n WHERE source = %8$L;'
					' RETURN NULL; END',
					dim.def->>'key_type', mname, dim.def->>'key', m, 'd_' || dim.name,
					pg_catalog.replace(dim.def->>'versions', '$1', 'walstar_keys'),
					body, dim.def->>'table', dim.def->>'effective'));
			EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER INSERT ON walstar_versions.%I REFERENCING NEW TABLE AS new_rows'
				' FOR EACH STATEMENT EXECUTE FUNCTION %s.%I()', 'walstar_model_' || mname,
				@extschema@._model_history(lschema, (dim.def->>'table')::name), m, '_on_' || dim.name);
			EXECUTE pg_catalog.format('ALTER TABLE walstar_versions.%I ENABLE ALWAYS TRIGGER %I',
				@extschema@._model_history(lschema, (dim.def->>'table')::name), 'walstar_model_' || mname);
		ELSE
			EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.%2$I() RETURNS trigger LANGUAGE plpgsql
				SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS %3$L$f$,
				m, '_on_' || dim.name,
				pg_catalog.format('DECLARE k %1$s[]; BEGIN'
					' PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext(%2$L));'
					' %8$s'
					' IF k IS NULL THEN %4$s ELSE %5$s END IF;'
					' UPDATE %6$s._state SET last_change_at = pg_catalog.now(), statements = statements + 1,'
					'  rows_changed = rows_changed + coalesce(pg_catalog.cardinality(k), 0) WHERE source = %7$L;'
					' RETURN NULL; END',
					dim.def->>'key_type', mname, dim.def->>'key',
					coalesce((SELECT string_agg(x, ' ') FROM jsonb_array_elements_text(refreshes_all->dim.name) AS x), ''),
					body, m, dim.def->>'table', @extschema@._model_trigger_keys(dim.def->>'key', NULL, NULL, NULL, NULL)));
			PERFORM @extschema@._model_triggers((dim.def->>'rel')::regclass, mname,
				pg_catalog.format('%s.%I', m, '_on_' || dim.name));
		END IF;
	END LOOP;

	------------------------------------------------------------------
	-- verify(), rebuild(), freshness()
	------------------------------------------------------------------
	EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.verify() RETURNS TABLE (object text, problem text, detail text)
		LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS %2$L$f$, m,
		'SELECT * FROM (SELECT NULL::text, NULL::text, NULL::text WHERE false' || verify || ') v ORDER BY 1, 2, 3');
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.verify() IS %L', m,
		'every fact, SCD2 version and rollup row the model keeps against a recompute with plain SQL from the landing tables and the version histories: no rows when they agree');
	EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.rebuild() RETURNS void LANGUAGE plpgsql
		SET search_path = pg_catalog, pg_temp AS %2$L$f$, m,
		pg_catalog.format('BEGIN PERFORM pg_catalog.pg_advisory_xact_lock(22440, pg_catalog.hashtext(%L)); %s END', mname, rebuild));
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.rebuild() IS %L', m,
		'everything the model keeps, built again from the landing tables and the version histories');
	EXECUTE pg_catalog.format($f$CREATE FUNCTION %1$s.freshness() RETURNS TABLE (source name, last_change_at timestamptz,
		statements bigint, rows_changed bigint, lag_messages numeric, lag_seconds double precision, source_idle boolean)
		LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS %2$L$f$, m,
		pg_catalog.format('SELECT s.source, s.last_change_at, s.statements, s.rows_changed, w.lag_messages, w.lag_seconds, w.source_idle'
			' FROM %s._state s LEFT JOIN (SELECT pg_catalog.sum(st.lag_messages) AS lag_messages,'
			'  pg_catalog.max(st.lag_seconds)::float8 AS lag_seconds, pg_catalog.bool_and(st.source_idle) AS source_idle'
			'  FROM walstar.subscription_status st WHERE st.landing_schema = %L) w ON true ORDER BY 1', m, lschema));
	EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s.freshness() IS %L', m,
		'per source table: when the model last absorbed a change, and the lag of the subscriptions landing in ' || lschema);

	-- privileges: nothing is public; the reader calls metrics and reads the
	-- star schema; the landing tables' owners (whose changes fire the
	-- triggers) maintain it
	EXECUTE pg_catalog.format('REVOKE ALL ON ALL FUNCTIONS IN SCHEMA %s FROM PUBLIC', m);
	EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO walstar_reader', m);
	EXECUTE pg_catalog.format('GRANT SELECT ON ALL TABLES IN SCHEMA %s TO walstar_reader', m);
	FOREACH fn IN ARRAY measure_names || reader_fns || ARRAY['freshness']
	LOOP
		FOR rec IN SELECT p.oid::regprocedure AS sig FROM pg_catalog.pg_proc p
				WHERE p.pronamespace = m::regnamespace AND p.proname = fn
		LOOP
			EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO walstar_reader', rec.sig);
		END LOOP;
	END LOOP;
	FOR rec IN SELECT DISTINCT pg_catalog.pg_get_userbyid(o) AS r FROM unnest(owners) AS o
			WHERE o <> (SELECT n.nspowner FROM pg_catalog.pg_namespace n WHERE n.oid = m::regnamespace)
	LOOP
		EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %s TO %I', m, rec.r);
		EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %s TO %I', m, rec.r);
		EXECUTE pg_catalog.format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %s TO %I', m, rec.r);
	END LOOP;

	EXECUTE pg_catalog.format('SELECT %s.rebuild()', m);
	RETURN mname;
END
$$;

-- A statement trigger's changed keys into k, from its transition tables
-- (NULL after a TRUNCATE); with rb, also every key of rel sharing an rb
-- value with a changed row (recompute_by) whose row passes the fact's
-- filter (others have no fact); with since, only those whose since is at
-- or after the earliest non-NULL since of the changed rows of that rb
-- value, old or new (recompute_since), or NULL.
CREATE FUNCTION @extschema@._model_trigger_keys(key_col text, rel text, rb text, since text, filter text) RETURNS text
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
	SELECT pg_catalog.format('IF TG_OP = ''TRUNCATE'' THEN k := NULL;'
		' ELSIF TG_OP = ''INSERT'' THEN k := ARRAY(SELECT n.%1$I FROM new_rows n%2$s);'
		' ELSIF TG_OP = ''UPDATE'' THEN k := ARRAY(SELECT n.%1$I FROM new_rows n UNION SELECT o.%1$I FROM old_rows o%3$s);'
		' ELSE k := ARRAY(SELECT o.%1$I FROM old_rows o%4$s); END IF;',
		key_col,
		pg_catalog.replace(x.others, '@changed@', 'SELECT * FROM new_rows'),
		pg_catalog.replace(x.others, '@changed@', 'SELECT * FROM new_rows UNION ALL SELECT * FROM old_rows'),
		pg_catalog.replace(x.others, '@changed@', 'SELECT * FROM old_rows'))
	FROM (SELECT CASE WHEN rb IS NULL THEN ''
		WHEN since IS NULL THEN pg_catalog.format(' UNION SELECT s.%1$I FROM %2$s AS s'
			' WHERE s.%3$I IN (SELECT c.%3$I FROM (@changed@) AS c) AND (%4$s) IS TRUE', key_col, rel, rb, filter)
		ELSE pg_catalog.format(' UNION SELECT s.%1$I FROM %2$s AS s,'
			' (SELECT c.%3$I AS walstar_rb, pg_catalog.min(c.%4$I) AS walstar_since FROM (@changed@) AS c'
			'  WHERE c.%4$I IS NOT NULL GROUP BY 1) AS walstar_c'
			' WHERE s.%3$I = walstar_c.walstar_rb AND (s.%4$I >= walstar_c.walstar_since OR s.%4$I IS NULL) AND (%5$s) IS TRUE',
			key_col, rel, rb, since, filter) END AS others) AS x;
END;

-- The model's statement-level triggers on a landing table, firing also
-- under session_replication_role = replica (the apply worker).
CREATE FUNCTION @extschema@._model_triggers(rel regclass, model text, fn text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	op text;
BEGIN
	FOREACH op IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate']
	LOOP
		EXECUTE pg_catalog.format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
			'walstar_model_' || model || '_' || op, pg_catalog.upper(op), rel,
			CASE op WHEN 'insert' THEN 'REFERENCING NEW TABLE AS new_rows'
					WHEN 'update' THEN 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'
					WHEN 'delete' THEN 'REFERENCING OLD TABLE AS old_rows'
					ELSE '' END, fn);
		EXECUTE pg_catalog.format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', rel, 'walstar_model_' || model || '_' || op);
	END LOOP;
END
$$;

-- drop_model(name): the model's schema and triggers go, its sources are
-- unregistered (a version history nobody keeps any more goes with them).
CREATE FUNCTION @extschema@.drop_model(name text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	decl jsonb;
	s record;
BEGIN
	PERFORM @extschema@._model_name(name, 'the model''s name');
	IF pg_catalog.to_regclass(pg_catalog.format('%I._declaration', name)) IS NULL THEN
		RAISE EXCEPTION 'model % does not exist', name USING ERRCODE = 'undefined_object';
	END IF;
	EXECUTE pg_catalog.format('SELECT declaration::text FROM %I._declaration', name) INTO s;
	decl := (s.declaration)::jsonb;
	EXECUTE pg_catalog.format('DROP SCHEMA %I CASCADE', name);
	FOR s IN SELECT f.key AS fact FROM jsonb_each(decl->'facts') AS f WHERE f.value ?| ARRAY['group_by', 'recompute_by']
	LOOP
		EXECUTE pg_catalog.format('DROP INDEX IF EXISTS %I.%I', decl->>'landing_schema', 'walstar_model_' || name || '_' || s.fact);
	END LOOP;
	FOR s IN SELECT ms.landing_schema, ms.landing_table FROM @extschema@.model_sources ms WHERE ms.model = name
	LOOP
		PERFORM @extschema@.unregister_model_source(name, s.landing_schema, s.landing_table);
	END LOOP;
END
$$;

REVOKE ALL ON FUNCTION @extschema@.create_model(jsonb), @extschema@.drop_model(text),
	@extschema@._model_name(text, text), @extschema@._model_expr(text, text),
	@extschema@._model_type(text, text, text, text), @extschema@._model_history(name, name),
	@extschema@._model_coltype(regtype), @extschema@._model_numeric(regtype),
	@extschema@._model_source(name, text, text), @extschema@._model_triggers(regclass, text, text),
	@extschema@._model_keeps_versions(jsonb, text), @extschema@._model_trigger_keys(text, text, text, text, text),
	@extschema@._model_bucket_bounds(regtype), @extschema@._model_bucketed(jsonb, jsonb), @extschema@._model_histograms(jsonb),
	@extschema@._model_hconds(text, text[]), @extschema@._model_kept(jsonb, jsonb), @extschema@._model_gmatch(text, text[], boolean),
	@extschema@._model_percentile(text, text, text, text, boolean), @extschema@._model_kept_sql(text, text[], text)
	FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.create_model(jsonb), @extschema@.drop_model(text),
	@extschema@._model_name(text, text), @extschema@._model_expr(text, text),
	@extschema@._model_type(text, text, text, text), @extschema@._model_history(name, name),
	@extschema@._model_coltype(regtype), @extschema@._model_numeric(regtype),
	@extschema@._model_source(name, text, text), @extschema@._model_triggers(regclass, text, text),
	@extschema@._model_keeps_versions(jsonb, text), @extschema@._model_trigger_keys(text, text, text, text, text),
	@extschema@._model_bucket_bounds(regtype), @extschema@._model_bucketed(jsonb, jsonb), @extschema@._model_histograms(jsonb),
	@extschema@._model_hconds(text, text[]), @extschema@._model_kept(jsonb, jsonb), @extschema@._model_gmatch(text, text[], boolean),
	@extschema@._model_percentile(text, text, text, text, boolean), @extschema@._model_kept_sql(text, text[], text)
	TO walstar_admin;
-- which landing tables models read, and their histories: for the engine
GRANT SELECT ON @extschema@.model_sources, @extschema@.version_histories TO walstar_admin;
