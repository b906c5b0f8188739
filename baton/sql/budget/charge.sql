-- Adds a step's usage (its stored llm_usage record) to its workflow's spend, and stops the
-- workflow (reason 'budget', cancelled_at) when a total reaches its budget, or when usage
-- that could not be priced meets a cost budget. The caller holds the workflow's row lock
-- (taken first in the transaction), so the totals read here are the latest and the
-- charges of concurrent steps add up. A workflow already finished or cancelled is charged
-- but not stopped again. Returns whether this charge stopped it, and whether the usage was
-- unpriced against a cost budget.
WITH given AS (
    SELECT (u ->> 'cost_usd')::numeric AS cost,
           coalesce((u ->> 'input_tokens')::bigint, 0)
             + coalesce((u ->> 'output_tokens')::bigint, 0)
             + coalesce((u ->> 'cache_read_tokens')::bigint, 0)
             + coalesce((u ->> 'cache_write_tokens')::bigint, 0) AS tokens
      FROM (SELECT %(usage)s::jsonb AS u) AS raw
),
judged AS (
    SELECT w.id,
           g.cost,
           g.tokens,
           w.budget_usd IS NOT NULL AND g.cost IS NULL AND g.tokens > 0 AS unpriced,
           w.finished_at IS NULL AND w.cancelled_at IS NULL AND (
               (w.budget_usd IS NOT NULL AND (
                   (g.cost IS NULL AND g.tokens > 0)
                   OR w.spent_usd + coalesce(g.cost, 0) >= w.budget_usd))
               OR (w.budget_tokens IS NOT NULL AND w.spent_tokens + g.tokens >= w.budget_tokens)
           ) AS stops
      FROM {prefix}.baton_workflows w
     CROSS JOIN given g
     WHERE w.id = %(workflow_id)s
)
UPDATE {prefix}.baton_workflows w
   SET spent_usd = w.spent_usd + coalesce(j.cost, 0),
       spent_tokens = w.spent_tokens + j.tokens,
       reason = CASE WHEN j.stops THEN 'budget' ELSE w.reason END,
       cancelled_at = CASE WHEN j.stops THEN timezone('UTC', now()) ELSE w.cancelled_at END
  FROM judged j
 WHERE w.id = j.id
RETURNING j.stops, j.unpriced
