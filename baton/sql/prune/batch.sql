-- The next batch of workflows to prune, oldest first after the last batch's (finished_at,
-- id), locked for the transaction: whole workflows while their steps add up to at most
-- %(limit)s (the first one always, however big). Only finished workflows (finished_at set) qualify, and
-- none that still has a job of its own outside a final state (a job retried by hand after
-- the workflow finished). A workflow another transaction holds locked (a retry, a cancel)
-- is skipped, not waited for.
WITH candidates AS (
    SELECT w.id, w.finished_at, w.step_count
      FROM {prefix}.baton_workflows w
     WHERE w.finished_at IS NOT NULL
       AND w.finished_at < %(cutoff)s
       AND (w.finished_at, w.id) > (%(after_at)s, %(after_id)s)
       AND NOT EXISTS (
           SELECT 1
             FROM {prefix}.baton_steps s
             JOIN {prefix}.oban_jobs j ON j.id = s.job_id
            WHERE s.workflow_id = w.id
              AND j.meta ->> 'workflow_id' = s.workflow_id
              AND j.meta ->> 'workflow_step' = s.name
              AND j.state NOT IN ('completed', 'cancelled', 'discarded')
       )
     ORDER BY w.finished_at, w.id
     LIMIT %(limit)s
       FOR UPDATE OF w SKIP LOCKED
), sized AS (
    SELECT id, finished_at, step_count,
           sum(step_count) OVER (ORDER BY finished_at, id) - step_count AS before
      FROM candidates
)
SELECT id, finished_at, step_count
  FROM sized
 WHERE before = 0 OR before + step_count <= %(limit)s
 ORDER BY finished_at, id
