-- Claims a schedule's tick for one workflow; no row comes back when the tick was already
-- claimed (then nothing is built). Waits on the primary key while another transaction
-- holds the same tick, so two concurrent jobs of one tick cannot both build. Also drops
-- this schedule's ticks older than a week: only a repeat of a recent tick needs its row.
WITH pruned AS (
    DELETE FROM {prefix}.baton_schedule_ticks
    WHERE schedule = %(schedule)s AND tick < %(tick)s - interval '7 days'
)
INSERT INTO {prefix}.baton_schedule_ticks (schedule, tick, workflow_id)
VALUES (%(schedule)s, %(tick)s, %(workflow_id)s)
ON CONFLICT (schedule, tick) DO NOTHING
RETURNING workflow_id
