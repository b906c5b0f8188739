-- Who is listening for events: one row per (listening connection, topic), kept alive by
-- the listener's heartbeat. topic is a workflow id, or '' for workflow:all (a workflow id
-- is never blank). The settlement sends an event only when a live row names its workflow
-- or ''; see functions/baton_listened.sql.
CREATE TABLE {prefix}.baton_listeners (
    topic text NOT NULL,
    listener text NOT NULL,
    expires_at timestamp WITHOUT TIME ZONE NOT NULL,
    PRIMARY KEY (topic, listener)
);
