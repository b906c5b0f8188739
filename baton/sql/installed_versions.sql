SELECT version FROM {prefix}.baton_versions ORDER BY version
