-- booking_users: the source's own record of every version of every users
-- row that still exists (not replicated), which answers.sql reads as
-- user_versions; seq orders versions with equal updated_at. Load it before
-- the history.
CREATE TABLE user_versions (seq bigserial, id bigint, country_code text, updated_at timestamptz);
CREATE FUNCTION record_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM user_versions WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	INSERT INTO user_versions (id, country_code, updated_at) VALUES (NEW.id, NEW.country_code, NEW.updated_at);
	RETURN NEW;
END $$;
CREATE TRIGGER record_version AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION record_version();
