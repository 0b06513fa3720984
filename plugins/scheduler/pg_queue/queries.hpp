// Every statement of the pg_queue scheduler against the `jobs` table (migrations/0003_jobs.sql),
// in one place so the tests EXPLAIN exactly what the workers run. Each polling statement walks a
// partial index of its own, and those that lock rows skip locked ones (SKIP LOCKED), so workers
// and instances never wait for each other.
#pragma once

#include <array>
#include <string_view>

namespace flashsale::plugins::pg_queue {

struct Statement {
  std::string_view name;
  std::string_view sql;
};

// The claimer lock: every worker session holds pg_advisory_lock(kClaimerLockClass, its backend
// pid) while it lives, and stamps the jobs it claims with that pid (jobs.claimed_by). A running
// job whose claimer's lock is free lost its worker: PostgreSQL released the lock when the session
// ended, be it a kill -9 of the process or a dead connection. Shown in pg_locks as classid and
// objid. ("FSJQ"; the CDC leader lock of pg_wal uses another class.)
#define FLASHSALE_PG_QUEUE_CLAIMER_CLASS "1179863633"
inline constexpr std::string_view kClaimerLockClass = FLASHSALE_PG_QUEUE_CLAIMER_CLASS;

/// Takes this session's claimer lock; returns the pid it is keyed on.
inline constexpr Statement kHoldClaimerLock{
    "hold_claimer_lock",
    "SELECT pg_backend_pid() FROM (SELECT pg_advisory_lock(" FLASHSALE_PG_QUEUE_CLAIMER_CLASS
    ", pg_backend_pid())) l"};

/// Claims up to $2 due jobs of the kinds in $1 (text[]) for $3 milliseconds: marks them running,
/// counts the attempt. Per kind it reads jobs_due (kind, run_at, id) from the position of that
/// kind in $4 and $5 (bigint[] alike: run_at in microseconds since 1970, and id; the jobs after
/// it; NULL: from the head) — a job of a kind nobody handles is never looked at — and rows
/// another worker is claiming are skipped. A claim from the head walks the index entries every
/// earlier claim left (a claim changes the state, so the queued row's entry stays until vacuum:
/// 60,000 of them cost 15 ms a claim after a burst); a claim from where the worker's last one
/// ended does not. The kinds take turns (oldest first within a kind), so a backlog of one kind
/// (say 100,000 payment links) cannot hold back another kind's due jobs (lease expiries) until
/// it is gone. The update finds its rows by primary key (= ANY, never a join that could turn
/// into a scan).
inline constexpr Statement kClaim{
    "claim",
    "WITH due AS ("
    " SELECT t.id FROM ("
    "  SELECT d.id, d.run_at,"
    "   row_number() OVER (PARTITION BY k.kind ORDER BY d.run_at, d.id) AS turn"
    "  FROM unnest($1::text[], $4::bigint[], $5::bigint[]) AS k(kind, after_us, after_id)"
    "  CROSS JOIN LATERAL ("
    "   SELECT j.id, j.run_at FROM jobs j"
    "   WHERE j.state = 'queued' AND j.kind = k.kind AND j.run_at <= now()"
    "   AND (j.run_at, j.id) > (coalesce(timestamptz 'epoch' + k.after_us * interval '1 "
    "microsecond',"
    "    '-infinity'), coalesce(k.after_id, 0))"
    "   ORDER BY j.run_at, j.id LIMIT $2 FOR UPDATE SKIP LOCKED) d) t"
    " ORDER BY t.turn, t.run_at, t.id LIMIT $2)"
    " UPDATE jobs j SET state = 'running', attempts = j.attempts + 1,"
    " locked_until = now() + $3::int * interval '1 millisecond', updated_at = now(),"
    " claimed_by = pg_backend_pid()"
    " WHERE j.id = ANY (ARRAY(SELECT id FROM due)) AND j.state = 'queued'"
    " RETURNING j.id, j.kind, j.payload::text, j.attempts,"
    " (extract(epoch FROM j.run_at) * 1000000)::bigint,"
    " (extract(epoch FROM greatest(j.run_at, j.created_at)) * 1000000)::bigint"};

/// Milliseconds from now (the database's clock) until the earliest queued job of the kinds in
/// $1 is due; negative when one is due already, NULL when there is none. One index probe per
/// kind.
inline constexpr Statement kNextDue{
    "next_due",
    "SELECT extract(epoch FROM min(n.run_at) - clock_timestamp()) * 1000"
    " FROM unnest($1::text[]) AS k(kind) CROSS JOIN LATERAL ("
    "  SELECT j.run_at FROM jobs j WHERE j.state = 'queued' AND j.kind = k.kind"
    "  ORDER BY j.run_at LIMIT 1) n"};

/// Records what became of claimed jobs: $1 is a JSON array of {id, attempts, outcome, delay_ms,
/// error} with outcome done | retry | dead | release (not started: back to the queue, attempt
/// not counted); $2 (bigint[]) holds the same ids. A row changes only if it is still running
/// the same attempt: a worker that outlived its visibility timeout cannot overwrite the run
/// that replaced it.
inline constexpr Statement kRecord{
    "record",
    "UPDATE jobs j SET"
    " state = CASE o.outcome WHEN 'done' THEN 'done' WHEN 'dead' THEN 'dead' ELSE 'queued' END,"
    " attempts = CASE WHEN o.outcome = 'release' THEN j.attempts - 1 ELSE j.attempts END,"
    " run_at = CASE WHEN o.outcome = 'retry'"
    "  THEN now() + o.delay_ms * interval '1 millisecond' ELSE j.run_at END,"
    " locked_until = NULL, claimed_by = NULL,"
    " last_error = CASE WHEN o.outcome IN ('retry', 'dead') THEN o.error ELSE j.last_error END,"
    " updated_at = now(),"
    " finished_at = CASE WHEN o.outcome IN ('done', 'dead') THEN now() END"
    " FROM jsonb_to_recordset($1::jsonb)"
    "  AS o(id bigint, attempts int, outcome text, delay_ms bigint, error text)"
    " WHERE j.id = ANY ($2::bigint[]) AND j.id = o.id AND j.state = 'running'"
    " AND j.attempts = o.attempts"
    " RETURNING j.id"};

/// Puts back up to $1 running jobs whose worker is gone: its claimer lock is free (the session
/// ended), or its visibility timeout passed (nobody extended it: the worker's process hangs or
/// lost the database). Queued again, due at once, or dead when that was attempt $2
/// (max_attempts) already. Jobs claimed before claimed_by existed wait for the timeout.
inline constexpr Statement kRescue{
    "rescue",
    "WITH lost AS ("
    " SELECT j.id FROM jobs j WHERE j.state = 'running' AND (j.locked_until < now()"
    "  OR (j.claimed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_locks l"
    "   WHERE l.locktype = 'advisory' AND l.classid = " FLASHSALE_PG_QUEUE_CLAIMER_CLASS
    "::oid"
    "   AND l.objid = j.claimed_by::oid AND l.objsubid = 2 AND l.granted)))"
    " ORDER BY j.locked_until LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " UPDATE jobs j SET state = CASE WHEN j.attempts >= $2::int THEN 'dead' ELSE 'queued' END,"
    " locked_until = NULL, claimed_by = NULL, updated_at = now(),"
    " finished_at = CASE WHEN j.attempts >= $2::int THEN now() END,"
    " last_error = 'the worker running attempt ' || j.attempts || ' was lost ('"
    "  || CASE WHEN j.locked_until < now() THEN 'visibility timeout passed'"
    "  ELSE 'its database session ended' END || ')'"
    " WHERE j.id = ANY (ARRAY(SELECT id FROM lost)) AND j.state = 'running'"
    " RETURNING j.kind, j.state"};

/// The heartbeat of a live process: moves locked_until to $2 milliseconds from now for the jobs
/// its worker sessions (pids $1, int[]) run, once half the window is gone, so a live job that
/// runs longer than the visibility timeout is never taken from its worker.
inline constexpr Statement kExtend{
    "extend",
    "UPDATE jobs SET locked_until = now() + $2::int * interval '1 millisecond'"
    " WHERE state = 'running' AND locked_until < now() + $2::int * interval '500 microseconds'"
    " AND claimed_by = ANY ($1::int[])"};

/// Deletes at most $2 done jobs that finished more than $1 seconds ago, oldest first.
inline constexpr Statement kCleanup{"cleanup",
                                    "DELETE FROM jobs WHERE id = ANY (ARRAY("
                                    " SELECT id FROM jobs WHERE state = 'done' AND finished_at < "
                                    "now() - $1::int * interval '1 second'"
                                    " ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED))"};

/// Per kind (at most $1 kinds): queued jobs, those of them due, and the age in seconds of the
/// oldest due one (0 when none is due), for flashsale_job_queue_depth, flashsale_job_queue_due
/// and flashsale_job_oldest_due_age_seconds. A job is due from the later of its run_at and its
/// enqueue (created_at): one enqueued with a run_at in the past is not years old.
inline constexpr Statement kDepth{
    "depth",
    "SELECT kind, count(*), count(*) FILTER (WHERE run_at <= now()),"
    " coalesce(extract(epoch FROM now() - min(greatest(run_at, created_at))"
    "  FILTER (WHERE run_at <= now())), 0)"
    " FROM jobs WHERE state = 'queued' GROUP BY kind ORDER BY kind LIMIT $1"};

/// Dead jobs per kind (at most $1 kinds), for flashsale_job_dead.
inline constexpr Statement kDeadCount{
    "dead_count",
    "SELECT kind, count(*) FROM jobs WHERE state = 'dead' GROUP BY kind ORDER BY kind LIMIT $1"};

/// Adds the jobs of $1, a JSON array of {kind, payload, run_at_us, unique_key}, in one
/// statement; a job whose unique_key is taken is skipped. Returns a row per new job. Rows go in
/// key order, so two enqueues sharing keys take the keys' locks in the same order (no deadlock).
inline constexpr Statement kEnqueue{
    "enqueue",
    "INSERT INTO jobs (kind, payload, run_at, unique_key)"
    " SELECT e.kind, coalesce(e.payload, '{}'::jsonb),"
    " timestamptz 'epoch' + e.run_at_us * interval '1 microsecond', nullif(e.unique_key, '')"
    " FROM jsonb_to_recordset($1::jsonb)"
    "  AS e(kind text, payload jsonb, run_at_us bigint, unique_key text)"
    " ORDER BY e.unique_key"
    " ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING"
    " RETURNING id"};

// A timestamptz column as RFC 3339 UTC with milliseconds, the API's format.
#define FLASHSALE_PG_QUEUE_TIME(column) \
  "to_char(" column " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

// {"jobs": [...]} of at most $1 jobs, newest first, of one state or all. One statement per
// state, so each can use that state's partial index in a generic plan too (all: the primary key).
#define FLASHSALE_PG_QUEUE_LIST_SQL(where) \
  "SELECT jsonb_build_object('jobs', coalesce(jsonb_agg(jsonb_build_object("                    \
  " 'id', j.id::text, 'kind', j.kind, 'state', j.state, 'payload', j.payload,"                  \
  " 'attempts', j.attempts, 'run_at', " FLASHSALE_PG_QUEUE_TIME("j.run_at") ","                 \
  " 'last_error', j.last_error, 'updated_at', " FLASHSALE_PG_QUEUE_TIME("j.updated_at") ")"     \
  " ORDER BY j.id DESC), '[]'::jsonb))::text"                                                  \
  " FROM (SELECT * FROM jobs " where " ORDER BY id DESC LIMIT $1::int) j"

inline constexpr std::array kList{
    Statement{"list_queued", FLASHSALE_PG_QUEUE_LIST_SQL("WHERE state = 'queued'")},
    Statement{"list_running", FLASHSALE_PG_QUEUE_LIST_SQL("WHERE state = 'running'")},
    Statement{"list_done", FLASHSALE_PG_QUEUE_LIST_SQL("WHERE state = 'done'")},
    Statement{"list_dead", FLASHSALE_PG_QUEUE_LIST_SQL("WHERE state = 'dead'")},
    Statement{"list_all", FLASHSALE_PG_QUEUE_LIST_SQL("")},
};
#undef FLASHSALE_PG_QUEUE_LIST_SQL
#undef FLASHSALE_PG_QUEUE_TIME

/// Moves dead job $1 back to the queue, due now, attempts reset.
inline constexpr Statement kRetry{
    "retry",
    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), locked_until = NULL,"
    " finished_at = NULL, updated_at = now() WHERE id = $1::bigint AND state = 'dead'"
    " RETURNING id"};

inline constexpr std::array kStatements{
    kHoldClaimerLock, kClaim,   kNextDue, kRecord,  kRescue,  kExtend,  kCleanup, kDepth,
    kDeadCount,       kEnqueue, kRetry,   kList[0], kList[1], kList[2], kList[3], kList[4]};
#undef FLASHSALE_PG_QUEUE_CLAIMER_CLASS

}  // namespace flashsale::plugins::pg_queue
