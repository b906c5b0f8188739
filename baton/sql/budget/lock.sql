-- Locks a budgeted workflow's row before its step's result is stored and charged; returns
-- why it was stopped as a whole (reason), if it was, as of the lock.
SELECT reason FROM {prefix}.baton_workflows WHERE id = %(workflow_id)s FOR UPDATE
