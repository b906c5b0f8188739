-- One batch of captured calls older than the calls' own max age, deleted oldest first
-- (the captured_at index); rows another transaction holds are skipped. Calls also go
-- with their step, so with their workflow, whatever their age.
WITH doomed AS (
    SELECT workflow_id, step, attempt, seq
      FROM {prefix}.baton_calls
     WHERE captured_at < %(cutoff)s
     ORDER BY captured_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM {prefix}.baton_calls c
     USING doomed d
     WHERE c.workflow_id = d.workflow_id AND c.step = d.step AND c.attempt = d.attempt
       AND c.seq = d.seq
    RETURNING 1
)
SELECT count(*) FROM deleted
