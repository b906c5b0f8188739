-- One StepOutput event (baton.stream), built and size-checked by baton/_stream.py, sent on
-- Baton's event channel (whose name carries the schema), only while someone listens for
-- its workflow (baton_listened: nobody subscribed, nothing is sent).
SELECT CASE WHEN {prefix}.baton_listened(%(workflow_id)s) THEN pg_notify(%(channel)s, %(payload)s) END
