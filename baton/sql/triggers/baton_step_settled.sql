-- Settles a step when its job reaches a terminal state, and broadcasts retries and snoozes.
-- A deferred constraint trigger, so the counters are touched only at commit: acks from
-- several producers do not queue on them. PostgreSQL cannot replace a constraint trigger,
-- so an install drops and creates it, inside its transaction, when this file changed since
-- the trigger was created (the trigger's comment holds the file's digest).
DROP TRIGGER IF EXISTS baton_step_settled ON {prefix}.oban_jobs;

CREATE CONSTRAINT TRIGGER baton_step_settled
    AFTER UPDATE OF state ON {prefix}.oban_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (
        OLD.state IS DISTINCT FROM NEW.state
        AND (
            NEW.state IN ('completed', 'cancelled', 'discarded', 'retryable')
            OR (NEW.state = 'scheduled' AND OLD.state = 'executing')
        )
        AND NEW.meta ? 'workflow_id'
    )
    EXECUTE FUNCTION {prefix}.baton_job_changed();
