-- A listener's topics become present (or their lease is renewed), after every transaction
-- that already asked baton_listened has ended: the exclusive advisory lock waits for their
-- shared ones (see functions/baton_listened.sql). Expired rows of listeners that went
-- away without a word are removed. Run in autocommit: the lock is held until this commits.
WITH locked AS (
    SELECT pg_advisory_xact_lock(1651471470, hashtext(%(events)s)) AS done
),
expired AS (
    DELETE FROM {prefix}.baton_listeners
     WHERE expires_at <= timezone('UTC', now())
)
INSERT INTO {prefix}.baton_listeners AS l (topic, listener, expires_at)
SELECT t.topic, %(listener)s, timezone('UTC', now()) + make_interval(secs => %(lease)s)
  FROM unnest(%(topics)s::text[]) AS t(topic), locked
ON CONFLICT (topic, listener) DO UPDATE SET expires_at = excluded.expires_at
