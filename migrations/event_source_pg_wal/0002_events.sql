-- The publication the pg_wal event source reads: every change of the tables whose rows become
-- domain events (SPEC §5). The replication slot is created by the event source at start-up.
CREATE PUBLICATION flashsale_events FOR TABLE items, orders, reservations;
