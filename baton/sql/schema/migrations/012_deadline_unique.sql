-- Schema version 12: workflow deadlines and unique keys.
--
-- deadline_at: when the workflow fails as a whole (reason 'deadline') if it has not finished;
-- NULL for no deadline. The partial index holds only the deadlines still to enforce, so the
-- check every stager cycle runs (sql/expire_deadlines.sql) reads the due ones from its start.
--
-- unique_key: while a workflow with this key is unfinished, no other may be inserted with it
-- (baton.errors.DuplicateWorkflow). The partial unique index covers unfinished workflows
-- only, so the key is free again once its workflow finishes, whatever the outcome.
ALTER TABLE {prefix}.baton_workflows
    ADD COLUMN deadline_at timestamp WITHOUT TIME ZONE,
    ADD COLUMN unique_key text;

CREATE INDEX baton_workflows_deadline_index
    ON {prefix}.baton_workflows (deadline_at)
 WHERE deadline_at IS NOT NULL AND finished_at IS NULL AND reason IS NULL
   AND cancelled_at IS NULL;

CREATE UNIQUE INDEX baton_workflows_unique_key_index
    ON {prefix}.baton_workflows (unique_key)
 WHERE unique_key IS NOT NULL AND finished_at IS NULL;
