-- Baton's tables and indexes: schema version 5, the baseline. Installed once, into a schema
-- that has none of them; later table changes are the numbered files in migrations/.
-- Functions and triggers are not here: they are (re)applied on every install from
-- ../functions and ../triggers.
--
-- Mutable workflow state lives here, never in oban_jobs.meta. A step row survives the
-- pruning of its job, so a settled dependency keeps counting and its result stays readable.

CREATE TABLE {prefix}.baton_workflows (
    id text PRIMARY KEY,
    name text,
    ignore_cancelled boolean NOT NULL,
    ignore_discarded boolean NOT NULL,
    ignore_deleted boolean NOT NULL,
    step_count integer NOT NULL,
    inserted_at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', now()),
    -- steps not yet settled; the settlement that takes it to zero finishes the workflow
    unsettled integer NOT NULL,
    outcome text CHECK (outcome IN ('completed', 'failed')),
    finished_at timestamp WITHOUT TIME ZONE,
    cancelled_at timestamp WITHOUT TIME ZONE,
    -- values set at insert (and added by steps as they complete) that every step reads
    -- without passing them through args
    context jsonb NOT NULL DEFAULT '{{}}'::jsonb
);

CREATE INDEX baton_workflows_inserted_at_index ON {prefix}.baton_workflows (inserted_at);

-- Only unfinished workflows can hold a step that needs sweeping.
CREATE INDEX baton_workflows_unfinished_index
    ON {prefix}.baton_workflows (id) WHERE finished_at IS NULL;

-- Steps added at run time (baton.Complete(add=...)) and the steps of sub-workflows are
-- ordinary step rows whose names are paths ("plan/summary[0]", "research/fetch").
CREATE TABLE {prefix}.baton_steps (
    workflow_id text NOT NULL REFERENCES {prefix}.baton_workflows (id) ON DELETE CASCADE,
    name text NOT NULL,
    job_id bigint NOT NULL,
    worker text NOT NULL,
    group_name text,
    group_index integer,
    deps text[] NOT NULL,
    ignore_cancelled boolean NOT NULL,
    ignore_discarded boolean NOT NULL,
    ignore_deleted boolean NOT NULL,
    -- true when the step's worker runs Baton's dep check (a @baton.worker); plain Oban
    -- workers whose deps failed are cancelled by the trigger instead.
    gated boolean NOT NULL,
    -- upstream steps not yet settled; the step is activated when this reaches zero
    pending integer NOT NULL CHECK (pending >= 0),
    -- upstream steps that settled in a failure this step does not ignore
    blocked integer NOT NULL DEFAULT 0,
    outcome text CHECK (outcome IN ('completed', 'cancelled', 'discarded', 'deleted')),
    settled_at timestamp WITHOUT TIME ZONE,
    -- set when perform_workflow returned successfully; guards retries
    performed_at timestamp WITHOUT TIME ZONE,
    -- the returned value wrapped as an object with one key, "value"; NULL when none
    result jsonb,
    -- the attempt that stored the result; a later attempt completing is a cached completion
    performed_attempt integer,
    -- LLM usage recorded with the result: model, tokens, latency, cost
    usage jsonb,
    -- the model a step is mapped to
    model text,
    -- a member of a model fan-out (Workflow.add_models): its group's results are keyed by model
    by_model boolean NOT NULL DEFAULT false,
    PRIMARY KEY (workflow_id, name)
);

CREATE UNIQUE INDEX baton_steps_job_id_index ON {prefix}.baton_steps (job_id);

CREATE INDEX baton_steps_group_index
    ON {prefix}.baton_steps (workflow_id, group_name, group_index)
    WHERE group_name IS NOT NULL;

CREATE TABLE {prefix}.baton_edges (
    workflow_id text NOT NULL REFERENCES {prefix}.baton_workflows (id) ON DELETE CASCADE,
    upstream text NOT NULL,
    downstream text NOT NULL,
    PRIMARY KEY (workflow_id, upstream, downstream)
);

CREATE INDEX baton_edges_downstream_index ON {prefix}.baton_edges (workflow_id, downstream);
