-- Deletes the workflows; every per-workflow table references baton_workflows with ON DELETE
-- CASCADE (steps, with their results and usage, and edges), so their rows go with them. A
-- table added later joins the pruning by declaring the same foreign key.
DELETE FROM {prefix}.baton_workflows
 WHERE id = ANY(%(ids)s)
