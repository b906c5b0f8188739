-- Baton schema version 3: settlement as a function, so a sweep can settle what no
-- trigger saw (rows removed by TRUNCATE or with triggers disabled, states set while
-- Baton was not installed), and the trigger calls the same code.

-- Only unfinished workflows can hold a step that needs sweeping.
CREATE INDEX baton_workflows_unfinished_index
    ON {prefix}.baton_workflows (id) WHERE finished_at IS NULL;

-- Settles one step when its job reached p_state ('deleted' when the row is gone), and
-- activates or cancels the dependents this settles. Returns true when this was the
-- step's first settlement. Events are broadcast here.
CREATE FUNCTION {prefix}.baton_settle(
    p_job_id bigint,
    p_state text,
    p_worker text,
    p_queue text,
    p_attempt integer,
    p_errors jsonb,
    p_wake boolean,
    p_deleted boolean
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_state text := p_state;
    v_step record;
    v_first boolean;
    v_ready bigint[];
    v_doomed bigint[];
    v_promoted integer;
    v_queues text[];
    v_unsettled integer;
    v_failed text[];
    v_failed_count integer;
    v_payload text;
    v_now timestamp := timezone('UTC', now());
BEGIN
    SELECT s.workflow_id, s.name, s.outcome, s.performed_at, s.performed_attempt,
           w.name AS workflow_name
      INTO v_step
      FROM {prefix}.baton_steps s
      JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
     WHERE s.job_id = p_job_id;

    IF NOT FOUND THEN
        RETURN false;
    END IF;

    IF v_state IN ('retryable', 'snoozed') THEN
        PERFORM {prefix}.baton_notify_step(
            v_step.workflow_id, v_step.workflow_name, v_step.name, p_worker, v_state,
            p_job_id, p_attempt, v_step.performed_at IS NOT NULL, false,
            CASE WHEN v_state = 'retryable' THEN {prefix}.baton_last_error(p_errors) END);
        RETURN false;
    END IF;

    -- Pruning a settled job changes nothing.
    IF p_deleted AND v_step.outcome IS NOT NULL THEN
        RETURN false;
    END IF;

    -- Lock the workflow first: one lock order for every settlement of a workflow.
    PERFORM 1 FROM {prefix}.baton_workflows WHERE id = v_step.workflow_id FOR UPDATE;

    -- First settlement wins: a completed job retried and completed again counts once.
    UPDATE {prefix}.baton_steps
       SET outcome = v_state, settled_at = v_now
     WHERE job_id = p_job_id AND outcome IS NULL;
    v_first := FOUND;

    PERFORM {prefix}.baton_notify_step(
        v_step.workflow_id, v_step.workflow_name, v_step.name, p_worker, v_state,
        p_job_id, p_attempt, v_step.performed_at IS NOT NULL,
        v_state = 'completed' AND v_step.performed_attempt < p_attempt,
        CASE WHEN v_state IN ('cancelled', 'discarded')
             THEN {prefix}.baton_last_error(p_errors) END);

    IF NOT v_first THEN
        RETURN false;
    END IF;

    -- Lock the dependents in one order so concurrent settlements cannot deadlock here.
    PERFORM 1
       FROM {prefix}.baton_steps s
       JOIN {prefix}.baton_edges e ON e.workflow_id = s.workflow_id AND e.downstream = s.name
      WHERE e.workflow_id = v_step.workflow_id AND e.upstream = v_step.name
      ORDER BY s.job_id
        FOR UPDATE OF s;

    WITH counted AS (
        UPDATE {prefix}.baton_steps s
           SET pending = s.pending - 1,
               blocked = s.blocked + CASE
                   WHEN v_state = 'cancelled' AND NOT s.ignore_cancelled THEN 1
                   WHEN v_state = 'discarded' AND NOT s.ignore_discarded THEN 1
                   WHEN v_state = 'deleted' AND NOT s.ignore_deleted THEN 1
                   ELSE 0
               END
          FROM {prefix}.baton_edges e
         WHERE e.workflow_id = v_step.workflow_id
           AND e.upstream = v_step.name
           AND s.workflow_id = e.workflow_id
           AND s.name = e.downstream
           AND s.pending > 0
        RETURNING s.job_id, s.pending, s.blocked, s.gated
    )
    SELECT coalesce(array_agg(job_id) FILTER (WHERE pending = 0 AND (blocked = 0 OR gated)), ARRAY[]::bigint[]),
           coalesce(array_agg(job_id) FILTER (WHERE pending = 0 AND blocked > 0 AND NOT gated), ARRAY[]::bigint[])
      INTO v_ready, v_doomed
      FROM counted;

    IF cardinality(v_ready) > 0 THEN
        WITH promoted AS (
            UPDATE {prefix}.oban_jobs
               SET state = CASE
                   WHEN scheduled_at > v_now THEN 'scheduled'::{prefix}.oban_job_state
                   ELSE 'available'::{prefix}.oban_job_state
               END
             WHERE id = ANY(v_ready) AND state = 'suspended'
            RETURNING queue, state
        )
        SELECT count(*), array_agg(DISTINCT queue) FILTER (WHERE state = 'available')
          INTO v_promoted, v_queues
          FROM promoted;

        -- The producer that acked this job fetches from its own queue right after the
        -- ack, so one successor in the same queue needs no wake-up (a notify would only
        -- cost it a debounce). Any other path wakes the producers.
        IF v_queues IS NOT NULL AND (
            v_promoted > 1
            OR p_wake
            OR v_queues <> ARRAY[p_queue]
        ) THEN
            PERFORM pg_notify({channel}, json_build_object('queue', q)::text)
               FROM unnest(v_queues) AS q;
        END IF;
    END IF;

    -- A plain Oban worker cannot check its deps, so Baton cancels it here. Its own
    -- settlement then cascades to its dependents.
    IF cardinality(v_doomed) > 0 THEN
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
                        WHERE me.job_id = j.id AND d.outcome <> 'completed'
                   )
               ))
         WHERE j.id = ANY(v_doomed) AND j.state = 'suspended';
    END IF;

    -- The counter row makes "finished" exactly once, however many steps settle at once.
    UPDATE {prefix}.baton_workflows
       SET unsettled = unsettled - 1
     WHERE id = v_step.workflow_id
    RETURNING unsettled INTO v_unsettled;

    IF v_unsettled = 0 THEN
        SELECT coalesce((array_agg(name ORDER BY job_id))[1:40], ARRAY[]::text[]), count(*)
          INTO v_failed, v_failed_count
          FROM {prefix}.baton_steps
         WHERE workflow_id = v_step.workflow_id AND outcome <> 'completed';

        UPDATE {prefix}.baton_workflows
           SET finished_at = v_now,
               outcome = CASE WHEN v_failed_count > 0 THEN 'failed' ELSE 'completed' END
         WHERE id = v_step.workflow_id
        RETURNING json_build_object(
            'type', 'workflow',
            'workflow_id', id,
            'workflow_name', left(name, 200),
            'outcome', outcome,
            'failed_steps', (SELECT array_agg(left(f, 130)) FROM unnest(v_failed) AS f),
            'failed_count', v_failed_count,
            'duration_ms', round(extract(epoch FROM v_now - inserted_at) * 1000),
            'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        )::text INTO v_payload;

        PERFORM pg_notify({events}, v_payload);
    END IF;

    RETURN true;
END;
$$;


-- The trigger only names what happened. A job deleted before it settled is "deleted" (or
-- its terminal state, if its settlement was missed); a job that settled and was then
-- pruned changes nothing. Producers are woken unless the settlement is an ack: the acking
-- producer fetches its own queue right after.
CREATE OR REPLACE FUNCTION {prefix}.baton_settle_step() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM {prefix}.baton_settle(
            OLD.id,
            CASE WHEN OLD.state IN ('completed', 'cancelled', 'discarded') THEN OLD.state::text
                 ELSE 'deleted' END,
            OLD.worker, OLD.queue, OLD.attempt, OLD.errors, true, true);
    ELSE
        PERFORM {prefix}.baton_settle(
            NEW.id,
            CASE WHEN NEW.state = 'scheduled' THEN 'snoozed' ELSE NEW.state::text END,
            NEW.worker, NEW.queue, NEW.attempt, NEW.errors, OLD.state <> 'executing', false);
    END IF;
    RETURN NULL;
END;
$$;
