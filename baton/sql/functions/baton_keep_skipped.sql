-- The function of the baton_step_skipped trigger (branches): a skipped step's job stays
-- cancelled. Oban's retry_job / retry_many_jobs, or an UPDATE by hand, moving it back to
-- available or scheduled is refused for that row (the row is left as it was), so a branch not
-- taken never runs, whatever its worker (a plain Oban worker has no check of its own).
CREATE OR REPLACE FUNCTION {prefix}.baton_keep_skipped() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM {prefix}.baton_steps s
                WHERE s.workflow_id = NEW.meta->>'workflow_id'
                  AND s.name = NEW.meta->>'workflow_step'
                  AND s.job_id = NEW.id
                  AND s.outcome = 'skipped') THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;
