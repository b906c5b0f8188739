-- The calls a workflow's steps captured, in the order of its steps, then attempt and seq;
-- only one step's when %(step)s is given.
SELECT c.step, c.attempt, c.seq, c.captured_at, c.request, c.response, c.bytes, c.truncated
  FROM {prefix}.baton_calls c
  JOIN {prefix}.baton_steps s ON s.workflow_id = c.workflow_id AND s.name = c.step
 WHERE c.workflow_id = %(workflow_id)s
   AND (%(step)s::text IS NULL OR c.step = %(step)s::text)
 ORDER BY s.job_id, c.attempt, c.seq
