-- A listener's heartbeat: its leases renewed; returns the topics still present. A topic
-- missing here expired (the listener was stalled past its lease) and must register again.
UPDATE {prefix}.baton_listeners
   SET expires_at = timezone('UTC', now()) + make_interval(secs => %(lease)s)
 WHERE listener = %(listener)s
   AND expires_at > timezone('UTC', now())
RETURNING topic
