-- Stores the calls one step attempt captured (baton.capture), given as a JSON array, with
-- the step the job's meta names, and only if that step recorded this job.
INSERT INTO {prefix}.baton_calls
    (workflow_id, step, attempt, seq, job_id, captured_at, request, response, bytes, truncated)
SELECT s.workflow_id, s.name, %(attempt)s, c.seq, s.job_id, c.captured_at,
       c.request::jsonb, c.response::jsonb, c.bytes, c.truncated
  FROM {prefix}.baton_steps s
 CROSS JOIN jsonb_to_recordset(%(calls)s::jsonb)
       AS c(seq integer, captured_at timestamp, request text, response text, bytes integer,
            truncated boolean)
 WHERE s.workflow_id = %(workflow_id)s AND s.name = %(step)s AND s.job_id = %(job_id)s
ON CONFLICT DO NOTHING
