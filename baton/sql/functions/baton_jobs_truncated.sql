-- The function of the baton_jobs_truncated trigger: after oban_jobs is truncated (Oban's
-- test reset, a manual TRUNCATE), every job is gone, so every step not yet settled settles
-- 'deleted', through baton_settle_step as a deleted job would: its dependents are counted
-- down, events are broadcast, and each workflow finishes once. The steps keep the ids their
-- jobs had; new jobs may reuse them (ids restart), which matches no step: a job is a step's
-- only when its meta names the step.
CREATE OR REPLACE FUNCTION {prefix}.baton_jobs_truncated() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_step record;
BEGIN
    FOR v_step IN
        SELECT s.workflow_id, s.name, s.job_id, s.worker
          FROM {prefix}.baton_workflows w
          JOIN {prefix}.baton_steps s ON s.workflow_id = w.id
         WHERE w.finished_at IS NULL AND s.outcome IS NULL
         ORDER BY s.workflow_id, s.job_id
    LOOP
        PERFORM {prefix}.baton_settle_step(
            v_step.job_id, v_step.workflow_id, v_step.name, 'deleted', v_step.worker, '', 0,
            '[]'::jsonb, p_job_deleted => true);
    END LOOP;
    RETURN NULL;
END;
$$;
