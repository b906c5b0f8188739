-- What calls.sql would delete, for a dry run: every call older than the cutoff.
SELECT count(*) FROM {prefix}.baton_calls WHERE captured_at < %(cutoff)s
