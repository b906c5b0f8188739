SELECT id, name, inserted_at, finished_at, cancelled_at, outcome, reason, unsettled,
       step_count, deadline_at, unique_key, budget_usd, budget_tokens, spent_tokens,
       max_steps
  FROM {prefix}.baton_workflows
 WHERE id = %(workflow_id)s
