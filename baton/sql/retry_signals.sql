-- baton.retry of signal steps that hold no signal: their wait starts again. Run after
-- retry_jobs.sql made the ready ones available: those wait again, suspended or scheduled
-- for the end of a new wait, exactly as when their deps first settled.
WITH waiting AS (
    UPDATE {prefix}.baton_steps s
       SET signal_expired_at = NULL,
           signal_due_at = CASE WHEN s.pending = 0 AND s.blocked = 0
               THEN timezone('UTC', now()) + make_interval(secs => s.signal_timeout) END
     WHERE s.workflow_id = %(workflow_id)s AND s.name = ANY(%(names)s) AND s.signal
       AND s.signalled_at IS NULL
    RETURNING s.workflow_id, s.name, s.job_id, s.signal_due_at, s.signal_timeout,
              s.pending = 0 AND s.blocked = 0 AS ready
)
UPDATE {prefix}.oban_jobs j
   SET state = CASE WHEN w.signal_timeout IS NULL THEN 'suspended'::{prefix}.oban_job_state
                    ELSE 'scheduled'::{prefix}.oban_job_state END,
       scheduled_at = coalesce(w.signal_due_at, j.scheduled_at)
  FROM waiting w
 WHERE w.ready AND j.id = w.job_id AND j.state::text = 'available'
   AND j.meta->>'workflow_id' = w.workflow_id AND j.meta->>'workflow_step' = w.name
