INSERT INTO {prefix}.baton_limits AS l (key, paused_until)
VALUES (%(key)s, timezone('UTC', clock_timestamp()) + make_interval(secs => %(seconds)s))
ON CONFLICT (key) DO UPDATE
   SET paused_until = greatest(l.paused_until, excluded.paused_until)
RETURNING paused_until
