-- One StepOutput event (baton.stream), built and size-checked by baton/_stream.py, sent on
-- Baton's event channel (whose name carries the schema).
SELECT pg_notify(%(channel)s, %(payload)s)
