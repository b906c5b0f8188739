-- Settles a step whose job is deleted before it settled (see baton_job_changed). Deferred
-- like baton_step_settled, and likewise dropped and created when this file changed.
DROP TRIGGER IF EXISTS baton_step_deleted ON {prefix}.oban_jobs;

CREATE CONSTRAINT TRIGGER baton_step_deleted
    AFTER DELETE ON {prefix}.oban_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.meta ? 'workflow_id')
    EXECUTE FUNCTION {prefix}.baton_job_changed();
