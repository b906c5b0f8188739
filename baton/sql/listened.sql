-- Whether anyone listens for a workflow's events (the function it calls). Asked
-- first by a transaction that will send an event while holding the workflow's row lock:
-- the shared lock it takes is then held before the row lock, as in every settlement.
SELECT {prefix}.baton_listened(%(workflow_id)s)
