-- fs_place_batch's statements are planned once per connection, not once per call (issue 14).
-- PL/pgSQL caches each statement's plan, but after five calls it keeps planning a custom plan
-- for every call when the generic plan's estimate is higher, and it was for 0007's statement
-- that records the answers (its plan depends on the batch, a jsonb parameter): about 210 µs of
-- planning per call, whatever the batch, so a batch of one cost 1.4x the database CPU of 0001's
-- loop (bench/README.md, "Small batches cost more with 0007"). 0007's statements are written
-- for any plan to be a lookup by key on one index (see its comment), so the generic plan is the
-- one wanted: use it from the first call.
ALTER FUNCTION fs_place_batch(text, jsonb) SET plan_cache_mode = force_generic_plan;
