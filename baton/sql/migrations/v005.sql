-- Baton schema version 5: dynamic workflows.
--
-- A workflow carries context: values set at insert (and added by steps as they complete)
-- that every step reads without passing them through args. A step may be mapped to a
-- model; the members of a model fan-out (Workflow.add_models) are read back keyed by it.
-- Steps added at run time (baton.Complete(add=...)) and the steps of sub-workflows are
-- ordinary step rows whose names are paths ("plan/summary[0]", "research/fetch").

ALTER TABLE {prefix}.baton_workflows
    ADD COLUMN context jsonb NOT NULL DEFAULT '{{}}'::jsonb;

ALTER TABLE {prefix}.baton_steps
    ADD COLUMN model text,
    -- a member of a model fan-out: its group's results are keyed by model
    ADD COLUMN by_model boolean NOT NULL DEFAULT false;
