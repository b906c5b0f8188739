-- Whether a step's worker defines on_dep_cancelled or on_dep_discarded, recorded at insert.
-- A blocked step whose worker has none is cancelled by its dependency's settlement, in SQL,
-- without running its class (which may not even load); the others are activated so their
-- class calls the callback and cancels. Steps inserted before this version keep that path.
ALTER TABLE {prefix}.baton_steps ADD COLUMN callbacks boolean NOT NULL DEFAULT true;
