-- The unfinished workflows whose deadline has passed, marked failed as a whole: reason
-- 'deadline', and cancelled_at so that every step's gate and result write refuse to go on
-- (as for baton.cancel). Read through baton_workflows_deadline_index; a workflow another
-- transaction holds locked (a settlement, another node's check) is skipped, and seen again
-- by the next check if it is still unfinished. A workflow cancelled first stays cancelled.
WITH due AS (
    SELECT id
      FROM {prefix}.baton_workflows
     WHERE deadline_at <= timezone('UTC', now())
       AND deadline_at IS NOT NULL AND finished_at IS NULL AND reason IS NULL
       AND cancelled_at IS NULL
     ORDER BY deadline_at
     LIMIT %(limit)s
       FOR UPDATE SKIP LOCKED
)
UPDATE {prefix}.baton_workflows w
   SET reason = 'deadline',
       cancelled_at = timezone('UTC', now())
  FROM due
 WHERE w.id = due.id
RETURNING w.id
