-- Settles, as deleted, every unsettled step when oban_jobs is truncated (see the function).
-- A statement-level trigger: TRUNCATE fires no row trigger, and a constraint trigger cannot
-- be statement-level, so it runs at the end of the TRUNCATE, not at commit. Dropped and
-- created again when this file changed, like the others.
DROP TRIGGER IF EXISTS baton_jobs_truncated ON {prefix}.oban_jobs;

CREATE TRIGGER baton_jobs_truncated
    AFTER TRUNCATE ON {prefix}.oban_jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION {prefix}.baton_jobs_truncated();
