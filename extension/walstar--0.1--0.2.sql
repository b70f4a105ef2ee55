/* walstar--0.1--0.2.sql: ALTER EXTENSION walstar UPDATE from 0.1 to 0.2.
 *
 * Every change made to walstar--0.2.sql since 0.1 is made here too, so that
 * an updated installation has exactly the objects of a fresh one (the same
 * columns in the same order, the same function bodies, grants and comments):
 * regress/t/091_ext_upgrade.pl compares them. New table columns therefore go
 * at the end of their table in walstar--0.2.sql as well. */

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


-- Privileges, as at the end of walstar--0.2.sql (for the objects above;
-- the rest keep what 0.1 gave them)
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
	@extschema@.discard_dead_letters(text),
	@extschema@.register_model_source(text, name, name, boolean),
	@extschema@.unregister_model_source(text, name, name)
	TO walstar_admin;
-- record_versions runs as whoever writes a model's landing table, and only
-- asks about its own backend.
GRANT EXECUTE ON FUNCTION @extschema@._applying_versions(regclass) TO PUBLIC;
