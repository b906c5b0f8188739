SELECT max(version) FROM {prefix}.baton_versions
