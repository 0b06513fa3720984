// Decodes the PostgreSQL 15 logical replication stream (CopyBoth framing and pgoutput protocol
// version 1) into typed messages, and encodes the standby status update. No I/O.
#pragma once

#include <cstdint>
#include <flashsale/sdk/events.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace flashsale::plugins::pg_wal {

/// A WAL position; written in text as two 32-bit hex halves, "16/B374D848".
using Lsn = std::uint64_t;

/// "%X/%X", as PostgreSQL prints a pg_lsn.
std::string format_lsn(Lsn lsn);
/// The inverse of format_lsn: the SDK's, shared with the consumers of event ids.
using sdk::parse_lsn;

/// Microseconds since 2000-01-01 (PostgreSQL's epoch) -> since 1970-01-01, and back.
/// PostgreSQL's -infinity/infinity (INT64_MIN/MAX) stay infinite; other results saturate.
std::int64_t pg_to_unix_us(std::int64_t pg_us);
std::int64_t unix_to_pg_us(std::int64_t unix_us);

/// Malformed input; the message says what was malformed and at which byte offset of the buffer
/// given to parse_copy_data or decode.
class DecodeError : public std::runtime_error {
 public:
  using runtime_error::runtime_error;
};

// --- CopyBoth framing: the buffer PQgetCopyData returns ---

/// 'w': one pgoutput message. For logical walsenders wal_end == data_start, and both are 0/0 for
/// messages that are not a transaction's last write (Relation, Type).
struct XLogData {
  Lsn data_start;
  Lsn wal_end;
  std::int64_t send_time;    ///< µs since 2000-01-01, server clock
  std::string_view payload;  ///< points into the buffer given to parse_copy_data
};

/// 'k': everything before wal_end has been sent.
struct Keepalive {
  Lsn wal_end;
  std::int64_t send_time;  ///< µs since 2000-01-01, server clock
  bool reply_requested;    ///< answer now, or be disconnected at wal_sender_timeout
};

/// Splits one CopyData buffer; throws DecodeError on an unknown type byte or a bad length.
std::variant<XLogData, Keepalive> parse_copy_data(std::string_view buffer);

/// The 34-byte standby status update ('r'). For a logical slot `flush` becomes
/// confirmed_flush_lsn: pass the end_lsn of the last commit processed downstream.
std::string status_update(Lsn write, Lsn flush, Lsn apply, std::int64_t now_pg_us,
                          bool reply_requested);

// --- pgoutput protocol version 1 messages (no streaming, no two-phase) ---

struct Column {
  std::string name;
  std::uint32_t type_oid;
  std::int32_t type_modifier;  ///< -1 when the type has none
  bool key;                    ///< part of the replica identity (every column under FULL)
};

/// 'R': sent before a relation's first change in a session and again after its schema changed;
/// replaces any earlier description of the same oid.
struct Relation {
  std::uint32_t oid;
  std::string nspname;  ///< empty for pg_catalog
  std::string relname;
  char replica_identity;        ///< 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<Column> columns;  ///< attnum order, without dropped and generated columns
};

struct Value {
  /// unchanged_toast: an out-of-line value the change did not touch; its content is not sent.
  /// Under replica identity DEFAULT the non-key columns of a 'K' tuple are null placeholders,
  /// not real NULLs.
  enum class Kind { null, unchanged_toast, text };
  Kind kind = Kind::null;
  std::string text;  ///< the type's text output when kind == text
  bool operator==(const Value&) const = default;
};
using Tuple = std::vector<Value>;

/// 'B'. final_lsn is the commit record's LSN (Commit::commit_lsn).
struct Begin {
  Lsn final_lsn;
  std::int64_t commit_time;  ///< µs since 2000-01-01
  std::uint32_t xid;
};

/// 'C'. Acknowledge end_lsn once the transaction is processed.
struct Commit {
  std::uint8_t flags;
  Lsn commit_lsn;
  Lsn end_lsn;
  std::int64_t commit_time;  ///< µs since 2000-01-01
};

/// 'O': follows Begin when the transaction came from another node via a replication origin.
struct Origin {
  Lsn commit_lsn;  ///< the commit's LSN on the origin
  std::string name;
};

/// 'Y': describes a non-built-in type before a Relation that uses it.
struct TypeInfo {
  std::uint32_t oid;
  std::string nspname;
  std::string name;
};

struct Insert {
  std::uint32_t relation;
  Tuple new_tuple;
};

struct Update {
  std::uint32_t relation;
  /// 'O' (old row, under FULL), 'K' (old key, when the key changed) or 0 when absent.
  char old_kind;
  Tuple old_tuple;
  Tuple new_tuple;
};

struct Delete {
  std::uint32_t relation;
  char old_kind;  ///< 'K' or 'O'
  Tuple old_tuple;
};

struct Truncate {
  std::uint8_t options;  ///< bit 1: CASCADE, bit 2: RESTART IDENTITY
  std::vector<std::uint32_t> relations;
};

/// 'M' from pg_logical_emit_message(); a non-transactional one arrives outside any Begin/Commit.
struct LogicalMessage {
  bool transactional;
  Lsn lsn;
  std::string prefix;
  std::string content;
};

using Message = std::variant<Begin, Commit, Origin, Relation, TypeInfo, Insert, Update, Delete,
                             Truncate, LogicalMessage>;

/// Decodes one XLogData payload. Throws DecodeError on truncated or trailing bytes, unknown
/// message or tuple kinds, and on streaming, two-phase or binary-mode content, none of which
/// protocol version 1 without options sends.
Message decode(std::string_view payload);

}  // namespace flashsale::plugins::pg_wal
