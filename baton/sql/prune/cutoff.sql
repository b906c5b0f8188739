-- The instant before which a finished workflow is old enough to prune, by the database's
-- clock (the clock that wrote finished_at), read once per prune so that workflows finishing
-- while it runs cannot keep it going.
SELECT timezone('UTC', now()) - %(older_than)s::interval
