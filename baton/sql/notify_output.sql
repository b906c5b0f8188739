-- One StepOutput event (baton.stream), built and size-checked by baton/_stream.py, sent on
-- Baton's event channel (whose name carries the schema), only while someone listens for
-- its workflow (nobody subscribed, nothing is sent: see the listened function).
SELECT CASE WHEN {prefix}.baton_listened(%(workflow_id)s) THEN pg_notify(%(channel)s, %(payload)s) END
