-- Usage over [since, until) grouped by model, workflow name or UTC day (`by`), with the
-- totals over the whole period as the row whose `grouped` is false (GROUPING SETS); days in
-- order, other keys costliest first. Reads the period's range of
-- the usage table's recorded_at index, which includes every column used.
SELECT GROUPING(u.key) = 0 AS grouped,
       u.key,
       count(*) AS calls,
       coalesce(sum(u.input_tokens), 0)::bigint AS input_tokens,
       coalesce(sum(u.output_tokens), 0)::bigint AS output_tokens,
       coalesce(sum(u.cache_read_tokens), 0)::bigint AS cache_read_tokens,
       coalesce(sum(u.cache_write_tokens), 0)::bigint AS cache_write_tokens,
       coalesce(sum(u.cost_usd), 0) AS cost_usd,
       count(*) FILTER (WHERE u.cost_usd IS NULL) AS unpriced_calls,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY u.latency_ms) AS latency_p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY u.latency_ms) AS latency_p95_ms
  FROM (
        SELECT CASE %(by)s
                   WHEN 'model' THEN b.model
                   WHEN 'workflow' THEN b.workflow_name
                   ELSE to_char(b.recorded_at, 'YYYY-MM-DD')
               END AS key,
               b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_write_tokens,
               b.cost_usd, b.latency_ms
          FROM {prefix}.baton_usage b
         WHERE b.recorded_at >= %(since)s AND b.recorded_at < %(until)s
       ) AS u
 GROUP BY GROUPING SETS ((u.key), ())
 ORDER BY grouped, CASE WHEN %(by)s = 'day' THEN u.key END, cost_usd DESC, u.key NULLS LAST
