-- A step's job id is no longer unique among Baton's rows, and no longer looked up alone.
-- Oban's ids restart (TRUNCATE ... RESTART IDENTITY, `oban uninstall` then `oban install`)
-- while Baton's rows remain, so a new job may get the id an old step recorded: the unique
-- index then failed the next insert. A step is found by its primary key (the job's meta
-- holds workflow_id and workflow_step) and matched to a job only when the job's meta names
-- it, so an old id held by a new job is harmless.
DROP INDEX {prefix}.baton_steps_job_id_index;
