CREATE TABLE IF NOT EXISTS {prefix}.baton_versions (
    version integer PRIMARY KEY,
    installed_at timestamp WITHOUT TIME ZONE NOT NULL DEFAULT timezone('UTC', now())
)
