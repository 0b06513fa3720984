// The side effect of the kill test's job, shared by the test and the process it kills: an
// idempotent write (at most one effect per job payload, however often it runs) and a log of
// every run.
#pragma once

#include <flashsale/pg/connection.hpp>
#include <flashsale/sdk/scheduler.hpp>
#include <string>

namespace flashsale::test {

inline constexpr const char* kEffectTables =
    "CREATE TABLE effects (ref text PRIMARY KEY, applied_by text NOT NULL);"
    "CREATE TABLE runs (job_id bigint NOT NULL, attempt int NOT NULL, runner text NOT NULL,"
    " started_at timestamptz NOT NULL DEFAULT clock_timestamp())";

inline void apply_effect(pg::Connection& conn, const sdk::Job& job, const std::string& runner) {
  conn.exec("INSERT INTO runs (job_id, attempt, runner) VALUES ($1::bigint, $2::int, $3)",
            {job.id, std::to_string(job.attempt), runner});
  conn.exec("INSERT INTO effects (ref, applied_by) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            {job.payload.at("ref").get<std::string>(), runner});
}

}  // namespace flashsale::test
