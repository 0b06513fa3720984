-- The durable job queue of the scheduler/pg_queue plugin (SPEC §5 "queues vs streams").
--
-- A job moves queued -> running -> done, or back to queued for a retry, or to dead after its
-- last attempt (or on a permanent failure). Every polling query has its own partial index, so
-- no poll ever scans the table however many finished rows it holds:
--  * jobs_due:      claim due jobs and find the next due time, per kind, in run_at order;
--  * jobs_running:  find running jobs whose worker died (locked_until passed);
--  * jobs_finished: delete done jobs past their retention, oldest first, in bounded batches;
--  * jobs_dead:     list the dead letters.
-- No trigger and no NOTIFY: enqueue runs at thousands per second, and NOTIFY takes a
-- database-wide lock at commit. Workers are woken in-process and poll for other instances' jobs.
-- The table is not in the flashsale_events publication: jobs are commands, not domain facts.

CREATE TABLE jobs (
  id           bigserial PRIMARY KEY,
  kind         text NOT NULL CHECK (length(kind) BETWEEN 1 AND 100),
  payload      jsonb NOT NULL DEFAULT '{}'::jsonb,
  state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
  run_at       timestamptz NOT NULL DEFAULT now(),  -- not before this; moved on a retry
  attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),  -- runs started so far
  unique_key   text,           -- enqueue is idempotent per key while the row exists
  locked_until timestamptz,    -- while running: after this the worker is presumed dead
  last_error   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz,    -- when it became done or dead
  CHECK ((state = 'running') = (locked_until IS NOT NULL)),
  CHECK ((state IN ('done', 'dead')) = (finished_at IS NOT NULL))
);

CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_due ON jobs (kind, run_at, id) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state = 'done';
CREATE INDEX jobs_dead ON jobs (id) WHERE state = 'dead';

-- Each row is updated a few times and then deleted: vacuum and analyze the table far more often
-- than the defaults (20 % / 10 % of a large table), so dead tuples and plans stay small.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02,
                      autovacuum_vacuum_insert_scale_factor = 0.05,
                      autovacuum_analyze_scale_factor = 0.02);
