-- Cancels the given dependents, still suspended, whose dependencies did not complete and
-- that have no on_dep_* callback to call (plain Oban workers, and Baton workers without
-- one): they are never run, so their class need not even load. Each one's settlement
-- then cascades to its dependents. The error names each dependency that did not complete.
CREATE OR REPLACE FUNCTION {prefix}.baton_cancel_blocked(p_job_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamp := timezone('UTC', now());
BEGIN
    -- state::text, not state: by primary key only (see baton_settle_step's promotion).
    UPDATE {prefix}.oban_jobs j
       SET state = 'cancelled'::{prefix}.oban_job_state,
           cancelled_at = v_now,
           errors = j.errors || jsonb_build_array(jsonb_build_object(
               'attempt', j.attempt,
               'at', to_char(v_now, 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'),
               'error', 'cancelled by Baton: dependencies did not complete: ' || (
                   SELECT string_agg(d.name || ' (' || d.outcome || ')', ', ' ORDER BY d.name)
                     FROM {prefix}.baton_steps me
                     JOIN {prefix}.baton_edges e
                       ON e.workflow_id = me.workflow_id AND e.downstream = me.name
                     JOIN {prefix}.baton_steps d
                       ON d.workflow_id = e.workflow_id AND d.name = e.upstream
                    WHERE me.workflow_id = j.meta->>'workflow_id'
                      AND me.name = j.meta->>'workflow_step'
                      AND d.outcome NOT IN ('completed', 'skipped')
               )
           ))
     WHERE j.id = ANY(p_job_ids) AND j.state::text = 'suspended'
       -- only a job whose meta names the step that recorded its id (ids restart)
       AND EXISTS (SELECT 1 FROM {prefix}.baton_steps me
                    WHERE me.workflow_id = j.meta->>'workflow_id'
                      AND me.name = j.meta->>'workflow_step'
                      AND me.job_id = j.id);
END;
$$;
