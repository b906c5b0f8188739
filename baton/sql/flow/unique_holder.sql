-- The unfinished workflow holding a unique key, if any (baton_workflows_unique_key_index).
SELECT id
  FROM {prefix}.baton_workflows
 WHERE unique_key = %(unique_key)s AND finished_at IS NULL
