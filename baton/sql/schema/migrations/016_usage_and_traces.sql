-- Schema version 16: one row per recorded LLM usage, for the analytics of baton.usage_report
-- (cost and tokens by model, workflow name or day; latency percentiles per model), and the
-- trace context of each workflow.
--
-- The usage stays in baton_steps.usage too (status and baton.usage read it there); this
-- table is written by the same statement (sql/store_result.sql) and copies what a report
-- groups by (the workflow's name, the model, the time) so that a report over a period reads
-- one range of one index and joins nothing. A retried step that stores again (after
-- baton.retry) adds a row: both calls were paid for. Rows go with their workflow when the
-- pruner deletes it.
CREATE TABLE {prefix}.baton_usage (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_id text NOT NULL REFERENCES {prefix}.baton_workflows (id) ON DELETE CASCADE,
    step text NOT NULL,
    workflow_name text,
    recorded_at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', now()),
    model text,
    input_tokens bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cache_read_tokens bigint NOT NULL DEFAULT 0,
    cache_write_tokens bigint NOT NULL DEFAULT 0,
    latency_ms double precision,
    cost_usd numeric
);

-- A report reads the rows of its period from this index alone (an index-only scan: the
-- columns it sums are included), whatever the table's size outside the period.
CREATE INDEX baton_usage_recorded_at_index
    ON {prefix}.baton_usage (recorded_at)
    INCLUDE (model, workflow_name, input_tokens, output_tokens, cache_read_tokens,
             cache_write_tokens, latency_ms, cost_usd);

-- The pruner's cascade finds a workflow's rows by this index.
CREATE INDEX baton_usage_workflow_index ON {prefix}.baton_usage (workflow_id);

INSERT INTO {prefix}.baton_usage
    (workflow_id, step, workflow_name, recorded_at, model, input_tokens, output_tokens,
     cache_read_tokens, cache_write_tokens, latency_ms, cost_usd)
SELECT s.workflow_id, s.name, w.name, coalesce(s.performed_at, w.inserted_at),
       s.usage->>'model',
       coalesce((s.usage->>'input_tokens')::bigint, 0),
       coalesce((s.usage->>'output_tokens')::bigint, 0),
       coalesce((s.usage->>'cache_read_tokens')::bigint, 0),
       coalesce((s.usage->>'cache_write_tokens')::bigint, 0),
       (s.usage->>'latency_ms')::double precision,
       (s.usage->>'cost_usd')::numeric
  FROM {prefix}.baton_steps s
  JOIN {prefix}.baton_workflows w ON w.id = s.workflow_id
 WHERE s.usage IS NOT NULL AND jsonb_typeof(s.usage) = 'object';

-- The W3C traceparent of the span that inserted the workflow (baton/_tracing.py): every
-- step attempt's span, on whichever node it runs, is its child, so a workflow is one trace.
-- NULL when OpenTelemetry was not installed (or not recording) at insert.
ALTER TABLE {prefix}.baton_workflows ADD COLUMN traceparent text;
