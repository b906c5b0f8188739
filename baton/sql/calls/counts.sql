-- How many calls each step of a workflow captured, over all its attempts.
SELECT step, count(*) AS calls
  FROM {prefix}.baton_calls
 WHERE workflow_id = %(workflow_id)s
 GROUP BY step
