INSERT INTO {prefix}.baton_versions (version) VALUES (%(version)s)
