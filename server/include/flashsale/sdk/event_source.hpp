// Kind `event_source`: turns committed database changes into domain events (SPEC §5, §6), on
// one replica at a time (SPEC §10).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flashsale/sdk/plugin.hpp"

namespace flashsale::sdk {
inline namespace v1 {

/// A replica connected to the service database, as the event source sees it.
struct Replica {
  std::string node_id;          ///< its cluster.node_id
  std::string connected_since;  ///< RFC 3339: its oldest open database connection
  bool leader = false;          ///< it reads the log now
};

/// Who reads the log among the replicas of one database (GET /admin/cluster).
struct ClusterView {
  std::vector<Replica> replicas;           ///< every replica with a database connection, by node id
  std::string leader;                      ///< the replica reading the log; empty while none does
  std::string leader_since;                ///< RFC 3339: when the leader began reading
  std::optional<std::uint64_t> lag_bytes;  ///< the log's end minus what the leader acknowledged
};

/// Reads the write-ahead log and delivers domain events to the host's event bus. Every replica
/// loads one; the source itself makes sure only one of them reads at a time (the leader) and
/// that another takes over when it dies. The others stand by and are healthy.
class BOOST_SYMBOL_VISIBLE EventSource : public Plugin {
 public:
  static constexpr const char* kKind = "event_source";
  /// The replicas and the leader, as the database knows them now. Blocks (a query).
  [[nodiscard]] virtual ClusterView cluster() = 0;
};

}  // namespace v1
}  // namespace flashsale::sdk
