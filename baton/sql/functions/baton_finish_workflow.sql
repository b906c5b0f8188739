-- Counts one first settlement of a step off its workflow; the settlement that leaves the
-- workflow with no unsettled step records its outcome and emits its one "workflow
-- finished" event. The caller holds the workflow's row lock.
CREATE OR REPLACE FUNCTION {prefix}.baton_finish_workflow(p_workflow_id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_unsettled integer;
    v_failed text[];
    v_failed_count integer;
    v_payload text;
    v_now timestamp := timezone('UTC', now());
BEGIN
    -- The counter row makes "finished" exactly once, however many steps settle at once.
    UPDATE {prefix}.baton_workflows
       SET unsettled = unsettled - 1
     WHERE id = p_workflow_id
    RETURNING unsettled INTO v_unsettled;

    IF v_unsettled = 0 THEN
        SELECT coalesce((array_agg(name ORDER BY job_id))[1:40], ARRAY[]::text[]), count(*)
          INTO v_failed, v_failed_count
          FROM {prefix}.baton_steps
         WHERE workflow_id = p_workflow_id AND outcome <> 'completed';

        UPDATE {prefix}.baton_workflows
           SET finished_at = v_now,
               -- a reason (a budget reached) fails it as a whole, even with no step left
               outcome = CASE WHEN v_failed_count > 0 OR reason IS NOT NULL
                              THEN 'failed' ELSE 'completed' END
         WHERE id = p_workflow_id
        RETURNING json_build_object(
            'type', 'workflow',
            'workflow_id', id,
            'workflow_name', left(name, 200),
            'outcome', outcome,
            'reason', reason,
            'failed_steps', (SELECT array_agg(left(f, 130)) FROM unnest(v_failed) AS f),
            'failed_count', v_failed_count,
            'duration_ms', round(extract(epoch FROM v_now - inserted_at) * 1000),
            'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        )::text INTO v_payload;

        PERFORM pg_notify({events}, v_payload);
    END IF;
END;
$$;
