-- Cancels the jobs of steps Baton skips (branches): the caller has set each step's
-- skip_reason, so each job's settlement records the step as 'skipped', broadcasts it and
-- cascades to its dependents. The jobs never run: cancelled while still waiting, by
-- primary key only (see baton_settle_step's promotion), and only a job whose meta names the
-- step that recorded its id (ids restart). A job already running is left to finish.
CREATE OR REPLACE FUNCTION {prefix}.baton_skip_steps(p_job_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamp := timezone('UTC', now());
BEGIN
    UPDATE {prefix}.oban_jobs j
       SET state = 'cancelled'::{prefix}.oban_job_state,
           cancelled_at = v_now
     WHERE j.id = ANY(p_job_ids)
       AND j.state::text IN ('suspended', 'available', 'scheduled', 'retryable')
       AND EXISTS (SELECT 1 FROM {prefix}.baton_steps me
                    WHERE me.workflow_id = j.meta->>'workflow_id'
                      AND me.name = j.meta->>'workflow_step'
                      AND me.job_id = j.id);
END;
$$;
