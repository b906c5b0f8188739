SELECT pg_advisory_xact_lock(hashtext('baton.install:' || %(prefix)s))
