-- Schema version 15: budgets, a bound on the steps added at run time, and captured calls.
--
-- A workflow may carry a cost budget (USD) and a token budget; the steps' recorded usage
-- is added to spent_usd / spent_tokens on the workflow's row, under its row lock, by the
-- statement that stores the usage (baton/sql/budget/charge.sql). Reaching a budget sets
-- reason = 'budget' and cancelled_at in that same statement. max_steps bounds step_count,
-- including steps added by Complete(add=...). capture switches call capture on for every
-- step of the workflow.
ALTER TABLE {prefix}.baton_workflows
    ADD COLUMN budget_usd numeric CHECK (budget_usd > 0),
    ADD COLUMN budget_tokens bigint CHECK (budget_tokens > 0),
    ADD COLUMN spent_usd numeric NOT NULL DEFAULT 0,
    ADD COLUMN spent_tokens bigint NOT NULL DEFAULT 0,
    ADD COLUMN max_steps integer CHECK (max_steps > 0),
    ADD COLUMN capture boolean NOT NULL DEFAULT false;

-- The request and response of each LLM call a step captured (baton.capture), per attempt,
-- in the order captured. Deleted with its step (so with its workflow), or earlier by the
-- pruner's own, shorter, max age for calls (captured_at).
CREATE TABLE {prefix}.baton_calls (
    workflow_id text NOT NULL,
    step text NOT NULL,
    attempt integer NOT NULL,
    seq integer NOT NULL,
    job_id bigint NOT NULL,
    captured_at timestamp WITHOUT TIME ZONE NOT NULL,
    request jsonb,
    response jsonb,
    -- bytes of JSON the call had before any part was cut to the size cap
    bytes integer NOT NULL,
    truncated boolean NOT NULL,
    PRIMARY KEY (workflow_id, step, attempt, seq),
    FOREIGN KEY (workflow_id, step)
        REFERENCES {prefix}.baton_steps (workflow_id, name) ON DELETE CASCADE
);

CREATE INDEX baton_calls_captured_at_index ON {prefix}.baton_calls (captured_at);
