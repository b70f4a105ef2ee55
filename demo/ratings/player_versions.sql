-- ratings_clubs: the source's own record of every version of every players
-- row that still exists (not replicated), from the current rows on, which
-- answers.sql reads as player_versions. Load it after the history, where
-- the model's version history starts too (attach() after the history).
CREATE TABLE player_versions (seq bigserial, id bigint, club_id bigint, updated_at timestamptz);
INSERT INTO player_versions (id, club_id, updated_at) SELECT id, club_id, updated_at FROM players ORDER BY id;
CREATE FUNCTION record_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' THEN
		DELETE FROM player_versions WHERE id = OLD.id;
		RETURN OLD;
	END IF;
	INSERT INTO player_versions (id, club_id, updated_at) VALUES (NEW.id, NEW.club_id, NEW.updated_at);
	RETURN NEW;
END $$;
CREATE TRIGGER record_version AFTER INSERT OR UPDATE OR DELETE ON players FOR EACH ROW EXECUTE FUNCTION record_version();
