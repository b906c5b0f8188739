-- Signal steps (Workflow.add_signal): a step completed from outside by baton.signal, whose
-- payload becomes its result. `signal` marks one; `signal_timeout` is how long it waits once
-- ready (NULL: for ever); `signal_payload` and `signalled_at` hold the first signal, kept
-- until the step is ready; `signal_due_at` is when its wait ends (set when it becomes ready);
-- `signal_expired_at` is when its wait ended with no signal (the step is then discarded).
ALTER TABLE {prefix}.baton_steps
    ADD COLUMN signal boolean NOT NULL DEFAULT false,
    ADD COLUMN signal_timeout double precision,
    ADD COLUMN signal_payload jsonb,
    ADD COLUMN signalled_at timestamp,
    ADD COLUMN signal_due_at timestamp,
    ADD COLUMN signal_expired_at timestamp;
