// Turns decoded pgoutput messages into SPEC §5 domain events: assembles each transaction
// between Begin and Commit, maps row changes of items/orders/reservations to typed events, and
// hands back the transaction's EventBatch at its Commit.
#pragma once

#include <flashsale/sdk/event_types.hpp>
#include <flashsale/sdk/events.hpp>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "pgoutput.hpp"

namespace flashsale::plugins::pg_wal {

class EventMapper {
 public:
  /// Feeds the next message of the stream; returns the finished batch at a Commit.
  /// Throws DecodeError for a stream out of order (a change outside a transaction, a change of
  /// an undescribed relation, an UPDATE of an event table without its old row).
  std::optional<sdk::EventBatch> feed(const Message& message);
  /// Forgets everything session-bound (relations, an open transaction): call on reconnect.
  void reset();
  /// True between a Begin and its Commit.
  [[nodiscard]] bool in_transaction() const { return begin_.has_value(); }

 private:
  using Row = std::map<std::string, std::optional<std::string>>;
  Row row(const Relation& rel, const Tuple& tuple, const Tuple* old = nullptr) const;
  const Relation& relation(std::uint32_t oid) const;
  void on_item(const Row* old_row, const Row& row);
  void on_order(const Row* old_row, const Row& row);
  void add(std::string_view type, const Row& row, nlohmann::json data);

  std::unordered_map<std::uint32_t, Relation> relations_;
  std::optional<Begin> begin_;
  std::vector<sdk::Event> events_;
  std::map<std::string, nlohmann::json> leases_;  // order id -> lease granted in this transaction
};

}  // namespace flashsale::plugins::pg_wal
