-- Baton schema version 2: events, workflow settlement, usage and control.
--
-- Every step transition is broadcast on one channel (topics travel in the payload), and
-- the settlement that leaves a workflow with no unsettled step emits its one
-- "workflow finished" event. The workflow row is locked first in every settlement, so
-- settlements of one workflow take their locks in one order.

ALTER TABLE {prefix}.baton_workflows
    ADD COLUMN unsettled integer,
    ADD COLUMN outcome text CHECK (outcome IN ('completed', 'failed')),
    ADD COLUMN finished_at timestamp WITHOUT TIME ZONE,
    ADD COLUMN cancelled_at timestamp WITHOUT TIME ZONE;

UPDATE {prefix}.baton_workflows w
   SET unsettled = (
       SELECT count(*) FROM {prefix}.baton_steps s
        WHERE s.workflow_id = w.id AND s.outcome IS NULL
   );

UPDATE {prefix}.baton_workflows w
   SET finished_at = timezone('UTC', now()),
       outcome = CASE
           WHEN EXISTS (
               SELECT 1 FROM {prefix}.baton_steps s
                WHERE s.workflow_id = w.id AND s.outcome <> 'completed'
           ) THEN 'failed'
           ELSE 'completed'
       END
 WHERE w.unsettled = 0;

ALTER TABLE {prefix}.baton_workflows ALTER COLUMN unsettled SET NOT NULL;

CREATE INDEX baton_workflows_inserted_at_index ON {prefix}.baton_workflows (inserted_at);

ALTER TABLE {prefix}.baton_steps
    -- the attempt that stored the result; a later attempt completing is a cached completion
    ADD COLUMN performed_attempt integer,
    -- LLM usage recorded with the result: model, tokens, latency, cost
    ADD COLUMN usage jsonb;

-- Builds and sends one step event. The payload stays under PostgreSQL's 8,000-byte limit
-- whatever the error text: names are cut, the error is cut, then dropped if still too big.
CREATE FUNCTION {prefix}.baton_notify_step(
    p_workflow text,
    p_workflow_name text,
    p_step text,
    p_worker text,
    p_state text,
    p_job bigint,
    p_attempt integer,
    p_stored boolean,
    p_cached boolean,
    p_error text
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_payload text;
    v_error text := left(p_error, 1000);
BEGIN
    FOR v_try IN 1..2 LOOP
        v_payload := json_build_object(
            'type', 'step',
            'workflow_id', p_workflow,
            'workflow_name', left(p_workflow_name, 200),
            'step', left(p_step, 200),
            'worker', left(p_worker, 300),
            'state', p_state,
            'job_id', p_job,
            'attempt', p_attempt,
            'result_stored', coalesce(p_stored, false),
            'cached', coalesce(p_cached, false),
            'error', v_error,
            'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        )::text;
        EXIT WHEN octet_length(v_payload) <= 7900;
        v_error := '(error too large for an event; read it from the job)';
    END LOOP;
    PERFORM pg_notify({events}, v_payload);
END;
$$;

-- The last error of a job for an event. From a traceback, the exception part of the last
-- (raised) traceback in a chain: its first unindented line and every line after it, so a
-- multi-line message (an API error with a JSON body) is not cut to its last line.
CREATE FUNCTION {prefix}.baton_last_error(p_errors jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    v_error text := p_errors -> -1 ->> 'error';
    v_lines text[];
    v_from integer := 1;
BEGIN
    IF v_error IS NULL OR v_error NOT LIKE 'Traceback (most recent call last):%' THEN
        RETURN v_error;
    END IF;
    v_lines := string_to_array(rtrim(v_error, E' \n'), E'\n');
    FOR i IN REVERSE cardinality(v_lines)..1 LOOP
        IF v_lines[i] = 'Traceback (most recent call last):' THEN
            v_from := i + 1;
            EXIT;
        END IF;
    END LOOP;
    -- The frames ("  File ...", their code) are indented; the exception is not.
    FOR i IN v_from..cardinality(v_lines) LOOP
        IF v_lines[i] <> '' AND left(v_lines[i], 1) NOT IN (' ', E'\t') THEN
            RETURN array_to_string(v_lines[i:], E'\n');
        END IF;
    END LOOP;
    RETURN v_lines[cardinality(v_lines)];
END;
$$;

CREATE OR REPLACE FUNCTION {prefix}.baton_settle_step() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_job record;
    v_state text;
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
    IF TG_OP = 'DELETE' THEN
        v_job := OLD;
        v_state := CASE
            WHEN OLD.state IN ('completed', 'cancelled', 'discarded') THEN OLD.state::text
            ELSE 'deleted'
        END;
    ELSE
        v_job := NEW;
        v_state := CASE WHEN NEW.state = 'scheduled' THEN 'snoozed' ELSE NEW.state::text END;
    END IF;

    SELECT s.workflow_id, s.name, s.outcome, s.performed_at, s.performed_attempt,
           w.name AS workflow_name
      INTO v_step
      FROM {prefix}.baton_steps s
      JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
     WHERE s.job_id = v_job.id;

    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF v_state IN ('retryable', 'snoozed') THEN
        PERFORM {prefix}.baton_notify_step(
            v_step.workflow_id, v_step.workflow_name, v_step.name, v_job.worker, v_state,
            v_job.id, v_job.attempt, v_step.performed_at IS NOT NULL, false,
            CASE WHEN v_state = 'retryable' THEN {prefix}.baton_last_error(v_job.errors) END);
        RETURN NULL;
    END IF;

    -- Pruning a settled job changes nothing.
    IF TG_OP = 'DELETE' AND v_step.outcome IS NOT NULL THEN
        RETURN NULL;
    END IF;

    -- Lock the workflow first: one lock order for every settlement of a workflow.
    PERFORM 1 FROM {prefix}.baton_workflows WHERE id = v_step.workflow_id FOR UPDATE;

    -- First settlement wins: a completed job retried and completed again counts once.
    UPDATE {prefix}.baton_steps
       SET outcome = v_state, settled_at = v_now
     WHERE job_id = v_job.id AND outcome IS NULL;
    v_first := FOUND;

    PERFORM {prefix}.baton_notify_step(
        v_step.workflow_id, v_step.workflow_name, v_step.name, v_job.worker, v_state,
        v_job.id, v_job.attempt, v_step.performed_at IS NOT NULL,
        v_state = 'completed' AND v_step.performed_attempt < v_job.attempt,
        CASE WHEN v_state IN ('cancelled', 'discarded')
             THEN {prefix}.baton_last_error(v_job.errors) END);

    IF NOT v_first THEN
        RETURN NULL;
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
            OR TG_OP = 'DELETE'
            OR OLD.state <> 'executing'
            OR v_queues <> ARRAY[v_job.queue]
        ) THEN
            PERFORM pg_notify(TG_ARGV[0], json_build_object('queue', q)::text)
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

    RETURN NULL;
END;
$$;

DROP TRIGGER baton_step_settled ON {prefix}.oban_jobs;

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
    EXECUTE FUNCTION {prefix}.baton_settle_step({channel});
