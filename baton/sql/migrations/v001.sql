-- Baton schema version 1: workflows, steps, edges, and same-transaction activation.
--
-- Mutable workflow state lives here, never in oban_jobs.meta. A step row survives the
-- pruning of its job, so a settled dependency keeps counting and its result stays readable.

CREATE TABLE {prefix}.baton_workflows (
    id text PRIMARY KEY,
    name text,
    ignore_cancelled boolean NOT NULL,
    ignore_discarded boolean NOT NULL,
    ignore_deleted boolean NOT NULL,
    step_count integer NOT NULL,
    inserted_at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', now())
);

CREATE TABLE {prefix}.baton_steps (
    workflow_id text NOT NULL REFERENCES {prefix}.baton_workflows (id) ON DELETE CASCADE,
    name text NOT NULL,
    job_id bigint NOT NULL,
    worker text NOT NULL,
    group_name text,
    group_index integer,
    deps text[] NOT NULL,
    ignore_cancelled boolean NOT NULL,
    ignore_discarded boolean NOT NULL,
    ignore_deleted boolean NOT NULL,
    -- true when the step's worker runs Baton's dep check (a @baton.worker); plain Oban
    -- workers whose deps failed are cancelled by the trigger instead.
    gated boolean NOT NULL,
    -- upstream steps not yet settled; the step is activated when this reaches zero
    pending integer NOT NULL CHECK (pending >= 0),
    -- upstream steps that settled in a failure this step does not ignore
    blocked integer NOT NULL DEFAULT 0,
    outcome text CHECK (outcome IN ('completed', 'cancelled', 'discarded', 'deleted')),
    settled_at timestamp WITHOUT TIME ZONE,
    -- set when perform_workflow returned successfully; guards retries
    performed_at timestamp WITHOUT TIME ZONE,
    -- the returned value wrapped as an object with one key, "value"; NULL when none
    result jsonb,
    PRIMARY KEY (workflow_id, name)
);

CREATE UNIQUE INDEX baton_steps_job_id_index ON {prefix}.baton_steps (job_id);

CREATE INDEX baton_steps_group_index
    ON {prefix}.baton_steps (workflow_id, group_name, group_index)
    WHERE group_name IS NOT NULL;

CREATE TABLE {prefix}.baton_edges (
    workflow_id text NOT NULL REFERENCES {prefix}.baton_workflows (id) ON DELETE CASCADE,
    upstream text NOT NULL,
    downstream text NOT NULL,
    PRIMARY KEY (workflow_id, upstream, downstream)
);

CREATE INDEX baton_edges_downstream_index ON {prefix}.baton_edges (workflow_id, downstream);

-- Settles a step when its job reaches a terminal state or is deleted, and activates the
-- dependents whose last dependency this was. Runs as a deferred constraint trigger, so the
-- counters are touched only at commit: acks from several producers do not queue on them.
CREATE FUNCTION {prefix}.baton_settle_step() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_job record;
    v_outcome text;
    v_workflow text;
    v_step text;
    v_ready bigint[];
    v_doomed bigint[];
    v_promoted integer;
    v_queues text[];
    v_now timestamp := timezone('UTC', now());
BEGIN
    IF TG_OP = 'DELETE' THEN
        v_job := OLD;
        v_outcome := CASE
            WHEN OLD.state IN ('completed', 'cancelled', 'discarded') THEN OLD.state::text
            ELSE 'deleted'
        END;
    ELSE
        v_job := NEW;
        v_outcome := NEW.state::text;
    END IF;

    -- First settlement wins: a completed job retried and completed again counts once.
    UPDATE {prefix}.baton_steps
       SET outcome = v_outcome, settled_at = v_now
     WHERE job_id = v_job.id AND outcome IS NULL
    RETURNING workflow_id, name INTO v_workflow, v_step;

    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    -- Lock the dependents in one order so concurrent settlements cannot deadlock here.
    PERFORM 1
       FROM {prefix}.baton_steps s
       JOIN {prefix}.baton_edges e ON e.workflow_id = s.workflow_id AND e.downstream = s.name
      WHERE e.workflow_id = v_workflow AND e.upstream = v_step
      ORDER BY s.job_id
        FOR UPDATE OF s;

    WITH counted AS (
        UPDATE {prefix}.baton_steps s
           SET pending = s.pending - 1,
               blocked = s.blocked + CASE
                   WHEN v_outcome = 'cancelled' AND NOT s.ignore_cancelled THEN 1
                   WHEN v_outcome = 'discarded' AND NOT s.ignore_discarded THEN 1
                   WHEN v_outcome = 'deleted' AND NOT s.ignore_deleted THEN 1
                   ELSE 0
               END
          FROM {prefix}.baton_edges e
         WHERE e.workflow_id = v_workflow
           AND e.upstream = v_step
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

    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER baton_step_settled
    AFTER UPDATE OF state ON {prefix}.oban_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (
        NEW.state IN ('completed', 'cancelled', 'discarded')
        AND OLD.state IS DISTINCT FROM NEW.state
        AND NEW.meta ? 'workflow_id'
    )
    EXECUTE FUNCTION {prefix}.baton_settle_step({channel});

CREATE CONSTRAINT TRIGGER baton_step_deleted
    AFTER DELETE ON {prefix}.oban_jobs
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    WHEN (OLD.meta ? 'workflow_id')
    EXECUTE FUNCTION {prefix}.baton_settle_step({channel});
