-- Settles one step when its job reached p_state ('deleted' when the row is gone), and
-- activates the dependents whose last dependency this was (cancelling, through
-- baton_cancel_blocked, the blocked ones with no on_dep_* callback to call). Returns true when
-- this was the step's first settlement. Events are broadcast here. The trigger
-- (baton_job_changed) and the sweep (sweep_settle.sql) both settle through this function.
--
-- The step is named by the job's meta (p_workflow_id, p_step: Baton writes them once, at
-- insert) and found by its primary key; it is this job's only when it also recorded
-- p_job_id. Job ids alone do not identify a step: they restart (TRUNCATE ... RESTART
-- IDENTITY, oban_jobs dropped and created again) while Baton's rows remain.
--
-- Branches (migration 011): a completed step's stored `skips` name dependents that are
-- skipped, with everything downstream all of whose deps were skipped, by baton_skip_steps
-- in this transaction; the ready and doomed steps it finds are promoted and cancelled here
-- with the others. A skipped step's later job changes (its job cancelled by that function,
-- a retry of it by hand refused by its worker) settle and broadcast nothing.
--
-- Call it with the last two parameters by name:
--   p_wake => false       when the producer that acked the job fetches from its queue right
--                         after (the trigger, for a job that was executing): one successor
--                         in that queue then needs no wake-up;
--   p_job_deleted => true when the job row is gone: pruning a settled job changes nothing.
--
-- Cost stays linear whatever the statistics. Finding a settled step's dependents by joining
-- baton_edges to baton_steps went wrong with statistics gathered while the tables held many
-- small workflows (the usual mix): the planner expects about one row per workflow and may
-- run that join the wrong way round, for every step of the workflow scanning every edge
-- leaving the settled step. A 10,000-wide fan-out then cost 50 million rows removed by a
-- join filter, twice (the lock and the counter update): 32 s inside the ack's transaction,
-- where 0.4 s is needed.
--
-- The same statistics made each completion of the fan-in scan the whole workflow (31 ms per
-- completion at 10,000 wide, against 0.2 ms), and the promotion `id = ANY(v_ready) AND
-- state = 'suspended'` ran, in PL/pgSQL's generic plan, as a scan of every suspended job
-- in the table filtered by the array. Rewriting the join alone does not help: with the
-- dependents as an array, `name = ANY($n)` becomes a filter on a scan of the whole
-- workflow in the generic plan PL/pgSQL settles on after five calls. So the dependents'
-- names are read from baton_edges alone (a range scan of its primary key), each is
-- counted down by its full primary key, one row per statement, and the ready ones are
-- promoted through oban_jobs' primary key only.
CREATE OR REPLACE FUNCTION {prefix}.baton_settle_step(
    p_job_id bigint,
    p_workflow_id text,
    p_step text,
    p_state text,
    p_worker text,
    p_queue text,
    p_attempt integer,
    p_errors jsonb,
    p_wake boolean DEFAULT true,
    p_job_deleted boolean DEFAULT false
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    v_state text := p_state;
    v_step record;
    v_first boolean;
    v_ready bigint[] := ARRAY[]::bigint[];
    v_ready_names text[] := ARRAY[]::text[];
    v_doomed bigint[] := ARRAY[]::bigint[];
    v_skipped text[] := ARRAY[]::text[];
    v_skips jsonb := jsonb_build_object();
    v_more record;
    v_dependents text[];
    v_name text;
    v_dep record;
    v_promoted integer;
    v_queues text[];
    v_now timestamp := timezone('UTC', now());
BEGIN
    SELECT s.workflow_id, s.name, s.outcome, s.performed_at, s.performed_attempt,
           s.skips, w.name AS workflow_name
      INTO v_step
      FROM {prefix}.baton_steps s
      JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
     WHERE s.workflow_id = p_workflow_id AND s.name = p_step AND s.job_id = p_job_id;

    IF NOT FOUND THEN
        RETURN false;
    END IF;

    -- A skipped step stays skipped, silently (branches).
    IF v_step.outcome = 'skipped' THEN
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
    IF p_job_deleted AND v_step.outcome IS NOT NULL THEN
        RETURN false;
    END IF;

    -- Presence first (baton_listened takes a shared lock that a registering subscriber
    -- waits for): asked before any workflow lock, so no settlement waits for a
    -- registration while holding a workflow row another one needs.
    PERFORM {prefix}.baton_listened(v_step.workflow_id);

    -- Lock the workflow first: one lock order for every settlement of a workflow.
    PERFORM 1 FROM {prefix}.baton_workflows WHERE id = v_step.workflow_id FOR UPDATE;

    -- First settlement wins: a completed job retried and completed again counts once.
    UPDATE {prefix}.baton_steps
       SET outcome = v_state, settled_at = v_now
     WHERE workflow_id = p_workflow_id AND name = p_step AND outcome IS NULL;
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

    -- The dependents' names come from the edges alone (a range scan of their primary key),
    -- then each dependent is counted down by its full primary key, one row per statement:
    -- every plan PostgreSQL can pick for these, custom or generic, is linear whatever the
    -- statistics. Settlements of a workflow are serialised by its row lock above, so the
    -- dependents need no lock order of their own.
    SELECT coalesce(array_agg(e.downstream), ARRAY[]::text[])
      INTO v_dependents
      FROM {prefix}.baton_edges e
     WHERE e.workflow_id = v_step.workflow_id AND e.upstream = v_step.name;

    -- As a JSON object's keys: a lookup per dependent costs log(skips), not skips.
    IF v_state = 'completed' AND v_step.skips IS NOT NULL THEN
        SELECT coalesce(jsonb_object_agg(k, true), v_skips)
          INTO v_skips
          FROM unnest(v_step.skips) AS k;
    END IF;

    FOREACH v_name IN ARRAY v_dependents LOOP
        -- Branches: a dependent the completed step's result skips is skipped (below),
        -- whatever its other deps.
        IF v_skips ? v_name THEN
            v_skipped := v_skipped || v_name;
            CONTINUE;
        END IF;

        UPDATE {prefix}.baton_steps s
           SET pending = s.pending - 1,
               blocked = s.blocked + CASE
                   WHEN v_state = 'cancelled' AND NOT s.ignore_cancelled THEN 1
                   WHEN v_state = 'discarded' AND NOT s.ignore_discarded THEN 1
                   WHEN v_state = 'deleted' AND NOT s.ignore_deleted THEN 1
                   ELSE 0
               END,
               live = s.live + 1
         WHERE s.workflow_id = v_step.workflow_id
           AND s.name = v_name
           AND s.pending > 0
        RETURNING s.job_id, s.pending, s.blocked, s.live, s.gated AND s.callbacks AS callbacks,
                  s.signal AND s.signalled_at IS NULL AS awaits_signal, s.signal_timeout,
                  s.worker
             INTO v_dep;

        IF FOUND AND v_dep.pending = 0 THEN
            -- A blocked step runs only to call its worker's on_dep_* callback; without one
            -- it is cancelled here, so a class that cannot load is never needed.
            IF v_dep.blocked = 0 AND v_dep.awaits_signal THEN
                -- signals: a ready signal step with no signal stored waits for one
                PERFORM {prefix}.baton_await_signal(
                    v_dep.job_id, v_step.workflow_id, v_step.workflow_name, v_name,
                    v_dep.worker, v_dep.signal_timeout);
            ELSIF v_dep.blocked = 0 OR v_dep.callbacks THEN
                v_ready := v_ready || v_dep.job_id;
                v_ready_names := v_ready_names || v_name;
            ELSE
                v_doomed := v_doomed || v_dep.job_id;
            END IF;
        END IF;
    END LOOP;

    IF cardinality(v_skipped) > 0 THEN
        SELECT * INTO v_more
          FROM {prefix}.baton_skip_steps(v_step.workflow_id, v_step.workflow_name, v_skipped);
        v_ready := v_ready || v_more.ready;
        v_ready_names := v_ready_names || v_more.ready_names;
        v_doomed := v_doomed || v_more.doomed;
    END IF;

    IF cardinality(v_ready) > 0 THEN
        -- state::text, not state: the state index must not be used. Through it, the
        -- generic plan read every suspended job in the table and filtered each by the
        -- array (0.7 s for one 10,000-wide fan-out); by the primary key it reads these. A
        -- job is promoted only when its meta names the step that recorded its id.
        WITH promoted AS (
            UPDATE {prefix}.oban_jobs j
               SET state = CASE
                   WHEN j.scheduled_at > v_now THEN 'scheduled'::{prefix}.oban_job_state
                   ELSE 'available'::{prefix}.oban_job_state
               END
              FROM unnest(v_ready, v_ready_names) AS r(id, name)
             WHERE j.id = r.id AND j.state::text = 'suspended'
               AND j.meta->>'workflow_id' = v_step.workflow_id
               AND j.meta->>'workflow_step' = r.name
            RETURNING j.queue, j.state
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

    IF cardinality(v_doomed) > 0 THEN
        PERFORM {prefix}.baton_cancel_blocked(v_doomed);
    END IF;

    PERFORM {prefix}.baton_finish_workflow(v_step.workflow_id);

    RETURN true;
END;
$$;
