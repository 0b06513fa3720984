-- Who runs a running job: the backend pid of the worker connection that claimed it. Each worker
-- session holds the advisory lock (1179863633 "FSJQ", its pid) for as long as it lives, so a job
-- whose claimer's lock is free lost its worker (the process was killed, or its connection died)
-- and is claimable again at once, not only when locked_until passes. NULL for jobs claimed
-- before this column existed: those wait for locked_until, as before.
ALTER TABLE jobs ADD COLUMN claimed_by integer;
