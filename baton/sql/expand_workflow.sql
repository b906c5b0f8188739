-- Adds the steps a running step returned (baton.Complete(add=...)) to its workflow, in the
-- transaction that stores that step's result and holds its workflow's row lock. The
-- added steps wait, suspended, for the adding step (or for each other); every step that
-- waits for the adding step gets an edge from each added step and its pending counter
-- raised by as many, so none of them can start before all the added steps settle.
WITH -- the columns of the steps JSON are baton.store.StepInput's fields, bound as step_input
input AS (
    SELECT *
      FROM ROWS FROM (jsonb_to_recordset(%(steps)s::jsonb) AS ({step_input}))
           WITH ORDINALITY AS s
),
jobs AS (
    INSERT INTO {prefix}.oban_jobs
        (state, queue, worker, max_attempts, priority, args, meta, tags, scheduled_at)
    SELECT 'suspended'::{prefix}.oban_job_state,
           s.queue, s.worker, s.max_attempts, s.priority, s.args, s.meta,
           ARRAY(SELECT jsonb_array_elements_text(s.tags)),
           coalesce(s.scheduled_at, timezone('UTC', now()))
      FROM input s
     ORDER BY s.ordinality
    RETURNING id, meta->>'workflow_step' AS step
),
steps AS (
    INSERT INTO {prefix}.baton_steps
        (workflow_id, name, job_id, worker, group_name, group_index, deps, ignore_cancelled,
         ignore_discarded, ignore_deleted, gated, callbacks, pending, model, by_model, signal,
         signal_timeout)
    SELECT %(workflow_id)s, s.name, j.id, s.worker, s.group_name, s.group_index,
           ARRAY(SELECT jsonb_array_elements_text(s.deps)), s.ignore_cancelled,
           s.ignore_discarded, s.ignore_deleted, s.gated, s.callbacks, s.pending, s.model, s.by_model, s.signal,
           s.signal_timeout
      FROM input s
      JOIN jobs j ON j.step = s.name
),
-- read before this statement's inserts: the adding step's dependents as declared
downstream AS (
    SELECT e.downstream
      FROM {prefix}.baton_edges e
     WHERE e.workflow_id = %(workflow_id)s AND e.upstream = %(adder)s
),
edges AS (
    INSERT INTO {prefix}.baton_edges (workflow_id, upstream, downstream)
    SELECT %(workflow_id)s, e.upstream, e.downstream
      FROM jsonb_to_recordset(%(edges)s::jsonb) AS e(upstream text, downstream text)
    UNION ALL
    SELECT %(workflow_id)s, s.name, d.downstream
      FROM input s CROSS JOIN downstream d
),
waiting AS (
    UPDATE {prefix}.baton_steps t
       SET pending = t.pending + %(count)s
      FROM downstream d
     WHERE t.workflow_id = %(workflow_id)s
       AND t.name = d.downstream
       AND t.outcome IS NULL
    RETURNING t.name
),
counted AS (
    UPDATE {prefix}.baton_workflows w
       SET step_count = w.step_count + %(count)s,
           unsettled = w.unsettled + %(count)s
     WHERE w.id = %(workflow_id)s
    RETURNING w.name
)
SELECT (SELECT count(*) FROM jobs),
       (SELECT count(*) FROM waiting),
       -- sent only when someone listens for this workflow (see the function it calls)
       CASE WHEN {prefix}.baton_listened(%(workflow_id)s::text) THEN
       pg_notify(%(events)s, json_build_object(
           'type', 'added',
           'workflow_id', %(workflow_id)s::text,
           'workflow_name', left(c.name, 200),
           'step', left(%(adder)s::text, 200),
           'count', %(count)s::integer,
           'steps', (SELECT array_agg(left(s.name, 130) ORDER BY s.ordinality)
                       FROM input s WHERE s.ordinality <= 40),
           'at', to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
       )::text) END
  FROM counted c
