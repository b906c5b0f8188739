-- A signal step became ready (its last dep settled) and no signal is stored yet: it waits
-- without taking a queue slot. With a timeout its job is scheduled for the end of the wait
-- (the stager then makes it available and the signal worker discards it, unless a signal
-- came first); without one it stays suspended until baton.signal makes it available. Called
-- by baton_settle_step for that one dependent, by primary keys only. Broadcasts the step's
-- `awaiting_signal` event.
CREATE OR REPLACE FUNCTION {prefix}.baton_await_signal(
    p_job_id bigint,
    p_workflow_id text,
    p_workflow_name text,
    p_step text,
    p_worker text,
    p_timeout double precision
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamp := timezone('UTC', now());
    v_due timestamp := v_now + make_interval(secs => p_timeout);
BEGIN
    UPDATE {prefix}.baton_steps
       SET signal_due_at = v_due
     WHERE workflow_id = p_workflow_id AND name = p_step;

    IF p_timeout IS NOT NULL THEN
        -- state::text, not state: by primary key only (see baton_settle_step's promotion).
        UPDATE {prefix}.oban_jobs j
           SET state = 'scheduled'::{prefix}.oban_job_state, scheduled_at = v_due
         WHERE j.id = p_job_id AND j.state::text = 'suspended'
           AND j.meta->>'workflow_id' = p_workflow_id
           AND j.meta->>'workflow_step' = p_step;
    END IF;

    PERFORM {prefix}.baton_notify_step(
        p_workflow_id, p_workflow_name, p_step, p_worker, 'awaiting_signal', p_job_id, 0,
        false, false, NULL);
END;
$$;
