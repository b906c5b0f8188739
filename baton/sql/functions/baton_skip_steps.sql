-- Skips the named steps of a workflow (branches), and then, wave by wave, every step all of
-- whose deps were skipped. Called by baton_settle_step, which holds the workflow's row lock
-- and has not yet counted its own step off the workflow (so `unsettled` stays above zero
-- here, and that settlement's baton_finish_workflow finishes the workflow).
--
-- Each skipped step is settled here, once, by its primary key: outcome 'skipped', its
-- `skipped` event, its job cancelled while still waiting (never fetched, so its worker never
-- runs; the job's own settlement then finds the step skipped and changes nothing). Its
-- dependents are counted down once per wave, by as many as the wave skipped of their deps,
-- not once per edge: a 10,000-wide skip followed by a join updates the join's row once,
-- where updating it 10,000 times in one transaction walks an ever longer chain of row
-- versions (quadratic). `unsettled` drops once, by the number skipped.
--
-- Returns the dependents that became ready (their last dep settled, at least one dep not
-- skipped, nothing blocking) and those doomed (a dep failed, no callback): the caller
-- promotes and cancels them with its own.
CREATE OR REPLACE FUNCTION {prefix}.baton_skip_steps(
    p_workflow_id text,
    p_workflow_name text,
    p_names text[],
    OUT ready bigint[],
    OUT ready_names text[],
    OUT doomed bigint[]
)
LANGUAGE plpgsql AS $$
DECLARE
    v_wave text[] := p_names;
    v_next text[];
    v_downstream text[];
    v_more text[];
    v_name text;
    v_step record;
    v_dep record;
    v_count integer := 0;
    v_now timestamp := timezone('UTC', now());
BEGIN
    ready := ARRAY[]::bigint[];
    ready_names := ARRAY[]::text[];
    doomed := ARRAY[]::bigint[];
    WHILE cardinality(v_wave) > 0 LOOP
        v_downstream := ARRAY[]::text[];
        FOREACH v_name IN ARRAY v_wave LOOP
            UPDATE {prefix}.baton_steps s
               SET outcome = 'skipped', settled_at = v_now, pending = 0
             WHERE s.workflow_id = p_workflow_id AND s.name = v_name AND s.outcome IS NULL
            RETURNING s.job_id, s.worker INTO v_step;
            CONTINUE WHEN NOT FOUND;
            v_count := v_count + 1;

            -- state::text, not state: by primary key only (see baton_settle_step).
            UPDATE {prefix}.oban_jobs j
               SET state = 'cancelled'::{prefix}.oban_job_state, cancelled_at = v_now
             WHERE j.id = v_step.job_id
               AND j.state::text IN ('suspended', 'available', 'scheduled', 'retryable')
               AND j.meta->>'workflow_id' = p_workflow_id
               AND j.meta->>'workflow_step' = v_name;

            PERFORM {prefix}.baton_notify_step(
                p_workflow_id, p_workflow_name, v_name, v_step.worker, 'skipped', v_step.job_id,
                0, false, false, NULL);

            SELECT coalesce(array_agg(e.downstream), ARRAY[]::text[])
              INTO v_more
              FROM {prefix}.baton_edges e
             WHERE e.workflow_id = p_workflow_id AND e.upstream = v_name;
            v_downstream := v_downstream || v_more;
        END LOOP;

        v_next := ARRAY[]::text[];
        FOR v_dep IN
            SELECT d AS name, count(*)::integer AS skipped FROM unnest(v_downstream) AS d GROUP BY d
        LOOP
            UPDATE {prefix}.baton_steps s
               SET pending = greatest(s.pending - v_dep.skipped, 0)
             WHERE s.workflow_id = p_workflow_id AND s.name = v_dep.name
               AND s.pending > 0 AND s.outcome IS NULL
            RETURNING s.job_id, s.pending, s.blocked, s.live, s.gated AND s.callbacks AS callbacks,
                      s.signal AND s.signalled_at IS NULL AS awaits_signal, s.signal_timeout,
                      s.worker
                 INTO v_step;
            CONTINUE WHEN NOT FOUND OR v_step.pending > 0;
            IF v_step.blocked = 0 AND v_step.live = 0 THEN
                v_next := v_next || v_dep.name;  -- every dep was skipped
            ELSIF v_step.blocked = 0 AND v_step.awaits_signal THEN
                -- signals: a ready signal step with no signal stored waits for one
                PERFORM {prefix}.baton_await_signal(
                    v_step.job_id, p_workflow_id, p_workflow_name, v_dep.name, v_step.worker,
                    v_step.signal_timeout);
            ELSIF v_step.blocked = 0 OR v_step.callbacks THEN
                ready := ready || v_step.job_id;
                ready_names := ready_names || v_dep.name;
            ELSE
                doomed := doomed || v_step.job_id;
            END IF;
        END LOOP;
        v_wave := v_next;
    END LOOP;

    UPDATE {prefix}.baton_workflows SET unsettled = unsettled - v_count WHERE id = p_workflow_id;
END;
$$;
