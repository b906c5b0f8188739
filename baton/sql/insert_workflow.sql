WITH workflow AS (
    INSERT INTO {prefix}.baton_workflows
        (id, name, ignore_cancelled, ignore_discarded, ignore_deleted, step_count, unsettled,
         context, deadline_at, unique_key, traceparent, budget_usd, budget_tokens, max_steps,
         capture)
    VALUES
        (%(id)s, %(name)s, %(ignore_cancelled)s, %(ignore_discarded)s, %(ignore_deleted)s,
         %(step_count)s, %(step_count)s, %(context)s::jsonb,
         timezone('UTC', now()) + make_interval(secs => %(deadline_s)s::double precision),
         %(unique_key)s, %(traceparent)s, %(budget_usd)s::numeric, %(budget_tokens)s,
         %(max_steps)s, %(capture)s)
),
-- the columns of the steps JSON are baton.store.StepInput's fields, bound as step_input
input AS (
    SELECT s.*,
           -- a signal step without deps is ready at once: its wait ends after its timeout
           CASE WHEN s.signal AND s.pending = 0
                THEN timezone('UTC', now()) + make_interval(secs => s.signal_timeout)
           END AS signal_due_at
      FROM ROWS FROM (jsonb_to_recordset(%(steps)s::jsonb) AS ({step_input}))
           WITH ORDINALITY AS s
),
jobs AS (
    INSERT INTO {prefix}.oban_jobs
        (state, queue, worker, max_attempts, priority, args, meta, tags, scheduled_at)
    SELECT CASE
               WHEN s.pending > 0 THEN 'suspended'
               -- a signal step without deps waits for its signal from the start
               WHEN s.signal AND s.signal_timeout IS NULL THEN 'suspended'
               WHEN s.signal THEN 'scheduled'
               WHEN s.scheduled_at > timezone('UTC', now()) THEN 'scheduled'
               ELSE 'available'
           END::{prefix}.oban_job_state,
           s.queue, s.worker, s.max_attempts, s.priority, s.args, s.meta,
           ARRAY(SELECT jsonb_array_elements_text(s.tags)),
           coalesce(s.signal_due_at, s.scheduled_at, timezone('UTC', now()))
      FROM input s
     ORDER BY s.ordinality
    RETURNING id, state, queue, inserted_at, scheduled_at, meta->>'workflow_step' AS step
),
steps AS (
    INSERT INTO {prefix}.baton_steps
        (workflow_id, name, job_id, worker, group_name, group_index, deps, ignore_cancelled,
         ignore_discarded, ignore_deleted, gated, callbacks, pending, model, by_model, signal,
         signal_timeout, signal_due_at)
    SELECT %(id)s, s.name, j.id, s.worker, s.group_name, s.group_index,
           ARRAY(SELECT jsonb_array_elements_text(s.deps)), s.ignore_cancelled,
           s.ignore_discarded, s.ignore_deleted, s.gated, s.callbacks, s.pending, s.model, s.by_model, s.signal,
           s.signal_timeout, s.signal_due_at
      FROM input s
      JOIN jobs j ON j.step = s.name
),
edges AS (
    INSERT INTO {prefix}.baton_edges (workflow_id, upstream, downstream)
    SELECT %(id)s, e.upstream, e.downstream
      FROM jsonb_to_recordset(%(edges)s::jsonb) AS e(upstream text, downstream text)
),
-- one insert notification per queue that got available jobs
notified AS (
    SELECT count(pg_notify(%(channel)s, json_build_object('queue', q.queue)::text))
      FROM (SELECT DISTINCT j.queue FROM jobs j WHERE j.state = 'available') AS q
)
SELECT j.step, j.id, j.state::text AS state, j.queue, j.inserted_at, j.scheduled_at
  FROM jobs j
 CROSS JOIN notified
