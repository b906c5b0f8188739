-- Keeps a skipped step's job cancelled (see baton_keep_skipped): a BEFORE trigger, so the
-- refused update writes nothing. It fires only for a cancelled workflow job leaving that
-- state for one a producer would fetch. Dropped and created again when this file changed.
DROP TRIGGER IF EXISTS baton_step_skipped ON {prefix}.oban_jobs;

CREATE TRIGGER baton_step_skipped
    BEFORE UPDATE OF state ON {prefix}.oban_jobs
    FOR EACH ROW
    WHEN (
        OLD.state = 'cancelled'
        AND NEW.state IN ('available', 'scheduled')
        AND NEW.meta ? 'workflow_id'
    )
    EXECUTE FUNCTION {prefix}.baton_keep_skipped();
