-- Dataset runs, whichever gateway process runs them: one at a time (an advisory lock held by the
-- running process's connection, so a crashed holder gives it up), progress saved every second.
CREATE TABLE dataset_runs (
    id          bigserial PRIMARY KEY,
    dataset     text NOT NULL,
    holder      text NOT NULL,   -- host:pid of the gateway process that runs it
    progress    jsonb NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
