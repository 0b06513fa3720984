// See event_mapper.hpp. Which row change is which event (SPEC §5):
//   items INSERT                      -> item.created
//   items UPDATE of a count or pause  -> inventory.changed (one per item and transaction: the
//                                        last, with the counts as committed)
//   orders INSERT waiting|reserved    -> order.waiting | order.reserved (promoted: false)
//   orders UPDATE of status           -> order.reserved (promoted: true, from waiting),
//                                        order.confirmed, order.cancelled, order.expired
//   orders UPDATE setting payment_link-> payment_link.ready
//   reservations INSERT               -> the lease (id, expires_at) of its order.reserved event
#include "event_mapper.hpp"

#include <cctype>
#include <ctime>
#include <unordered_set>
#include <vector>

namespace flashsale::plugins::pg_wal {

namespace event_type = sdk::event_type;
namespace {

using Row = std::map<std::string, std::optional<std::string>>;

// A column's value; nullopt for NULL and for a column this schema version does not have.
std::optional<std::string> col(const Row& row, const char* name) {
  const auto it = row.find(name);
  return it == row.end() ? std::nullopt : it->second;
}

std::string text(const std::optional<std::string>& v) { return v.value_or(""); }

// "2026-11-24 10:00:00.123456+00" (timestamptz output) -> "2026-11-24T10:00:00.123Z".
std::string iso_time(const std::optional<std::string>& v) {
  if (!v || v->size() < 19) return text(v);
  std::string out = v->substr(0, 10) + "T" + v->substr(11, 8);
  std::size_t i = 19;
  std::string fraction;
  if (i < v->size() && (*v)[i] == '.') {
    for (++i; i < v->size() && std::isdigit(static_cast<unsigned char>((*v)[i])); ++i)
      fraction += (*v)[i];
  }
  out += "." + (fraction + "000").substr(0, 3);
  const std::string zone = v->substr(i);
  out += zone == "+00" || zone.empty() ? "Z" : zone.size() == 3 ? zone + ":00" : zone;
  return out;
}

nlohmann::json number_or_null(const std::optional<std::string>& v) {
  if (!v) return nullptr;
  try {
    return std::stoll(*v);
  } catch (const std::exception&) {
    return *v;
  }
}

bool changed(const Row& a, const Row& b, const char* column) {
  return col(a, column) != col(b, column);
}

// A transaction may change an item's row many times (a batch of placements updates it once per
// order), but only its last version was ever visible to anyone: the earlier inventory.changed
// events of each item go, and the last stays where it is, after the order events it follows.
// Counts seen mid-transaction ("available 8, waiting 17,808") would look like a broken
// invariant to whoever reads them.
void keep_last_inventory_change(std::vector<sdk::Event>& events) {
  std::unordered_set<std::string> later;  // items with an inventory.changed further on
  std::vector<bool> drop(events.size());
  for (std::size_t i = events.size(); i-- > 0;) {
    if (events[i].type == event_type::kInventoryChanged) {
      drop[i] = !later.insert(events[i].item_id).second;
    }
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (drop[i]) continue;
    if (kept != i) events[kept] = std::move(events[i]);
    ++kept;
  }
  events.resize(kept);
}

}  // namespace

void EventMapper::reset() {
  relations_.clear();
  begin_.reset();
  events_.clear();
  leases_.clear();
}

const Relation& EventMapper::relation(std::uint32_t oid) const {
  const auto it = relations_.find(oid);
  if (it == relations_.end()) {
    throw DecodeError("change of relation " + std::to_string(oid) + " before its description");
  }
  return it->second;
}

EventMapper::Row EventMapper::row(const Relation& rel, const Tuple& tuple, const Tuple* old) const {
  Row out;
  for (std::size_t i = 0; i < rel.columns.size() && i < tuple.size(); ++i) {
    const Value& v = tuple[i];
    if (v.kind == Value::Kind::text) {
      out[rel.columns[i].name] = v.text;
    } else if (v.kind == Value::Kind::unchanged_toast && old && i < old->size() &&
               (*old)[i].kind == Value::Kind::text) {
      out[rel.columns[i].name] = (*old)[i].text;  // not re-sent: the old row has it
    } else {
      out[rel.columns[i].name] = std::nullopt;
    }
  }
  return out;
}

void EventMapper::add(std::string_view type, const Row& r, nlohmann::json data) {
  sdk::Event e;
  e.type = type;
  const bool is_order = r.count("user_id") > 0;
  e.item_id = text(is_order ? col(r, "item_id") : col(r, "id"));
  if (is_order) {
    e.order_id = text(col(r, "id"));
    e.user_id = text(col(r, "user_id"));
  }
  e.data = std::move(data);
  events_.push_back(std::move(e));
}

void EventMapper::on_item(const Row* old_row, const Row& r) {
  const auto total = number_or_null(col(r, "total_stock"));
  const auto available = number_or_null(col(r, "available"));
  const auto confirmed = number_or_null(col(r, "confirmed"));
  // The leases held, by invariant 2 (available + held + sold = total); null from a row written
  // before items counted its sales.
  const auto reserved = total.is_number() && available.is_number() && confirmed.is_number()
                            ? nlohmann::json(total.get<long long>() - available.get<long long>() -
                                             confirmed.get<long long>())
                            : nlohmann::json(nullptr);
  nlohmann::json stock = {
      {"total_stock", total},
      {"available", available},
      {"reserved", reserved},
      {"confirmed", confirmed},
      {"waiting", number_or_null(col(r, "waiting"))},
      {"paused", col(r, "paused") == std::optional<std::string>("t")},
      {"closes_at", col(r, "closes_at") ? nlohmann::json(iso_time(col(r, "closes_at")))
                                        : nlohmann::json(nullptr)}};
  if (!old_row) {
    stock["name"] = text(col(r, "name"));
    add(event_type::kItemCreated, r, std::move(stock));
    return;
  }
  for (const char* column :
       {"total_stock", "available", "confirmed", "waiting", "paused", "closes_at"}) {
    if (changed(*old_row, r, column)) {
      add(event_type::kInventoryChanged, r, std::move(stock));
      return;
    }
  }
}

void EventMapper::on_order(const Row* old_row, const Row& r) {
  const std::string status = text(col(r, "status"));
  const std::string before = old_row ? text(col(*old_row, "status")) : "";
  if (!old_row || before != status) {
    nlohmann::json data = nlohmann::json::object();
    std::string_view type;
    if (status == "waiting") {
      type = event_type::kOrderWaiting;
      data["waitlist_seq"] = number_or_null(col(r, "waitlist_seq"));
    } else if (status == "reserved") {
      type = event_type::kOrderReserved;
      data["promoted"] = before == "waiting";
    } else {
      type = status == "confirmed"   ? event_type::kOrderConfirmed
             : status == "cancelled" ? event_type::kOrderCancelled
             : status == "expired"   ? event_type::kOrderExpired
                                     : std::string_view();
      if (!type.empty() && col(r, "reason")) data["reason"] = *col(r, "reason");
    }
    if (!type.empty()) add(type, r, std::move(data));
  }
  if (old_row && !col(*old_row, "payment_link") && col(r, "payment_link")) {
    add(event_type::kPaymentLinkReady, r, {{"payment_link", *col(r, "payment_link")}});
  }
}

std::optional<sdk::EventBatch> EventMapper::feed(const Message& message) {
  if (const auto* rel = std::get_if<Relation>(&message)) {
    relations_[rel->oid] = *rel;
    return std::nullopt;
  }
  if (const auto* b = std::get_if<Begin>(&message)) {
    if (begin_) throw DecodeError("Begin inside an open transaction");
    begin_ = *b;
    events_.clear();
    leases_.clear();
    return std::nullopt;
  }
  if (const auto* c = std::get_if<Commit>(&message)) {
    if (!begin_) throw DecodeError("Commit without Begin");
    if (c->commit_lsn != begin_->final_lsn)
      throw DecodeError("Commit LSN differs from its Begin's");
    sdk::EventBatch batch;
    batch.end_lsn = c->end_lsn;
    batch.commit_unix_us = pg_to_unix_us(c->commit_time);
    const std::string lsn = format_lsn(c->commit_lsn);
    const std::string at = sdk::rfc3339(batch.commit_unix_us);
    keep_last_inventory_change(events_);
    for (std::size_t i = 0; i < events_.size(); ++i) {
      auto& e = events_[i];
      e.event_id = lsn + "/" + std::to_string(i);
      e.lsn = lsn;
      e.committed_at = at;
      if (e.type == event_type::kOrderReserved) {
        if (auto it = leases_.find(e.order_id); it != leases_.end())
          e.data["reservation"] = it->second;
      }
    }
    batch.events = std::move(events_);
    events_.clear();
    leases_.clear();
    begin_.reset();
    return batch;
  }
  if (std::holds_alternative<LogicalMessage>(message) ||
      std::holds_alternative<TypeInfo>(message) || std::holds_alternative<Origin>(message) ||
      std::holds_alternative<Truncate>(message)) {
    return std::nullopt;  // no domain meaning (heartbeats are read by the reader)
  }
  if (!begin_) throw DecodeError("row change outside a transaction");

  std::uint32_t oid = 0;
  const Tuple* old_tuple = nullptr;
  const Tuple* new_tuple = nullptr;
  if (const auto* ins = std::get_if<Insert>(&message)) {
    oid = ins->relation;
    new_tuple = &ins->new_tuple;
  } else if (const auto* upd = std::get_if<Update>(&message)) {
    oid = upd->relation;
    new_tuple = &upd->new_tuple;
    if (upd->old_kind == 'O') old_tuple = &upd->old_tuple;
  } else {
    return std::nullopt;  // deletes: the service never deletes these rows
  }
  const Relation& rel = relation(oid);
  if (rel.nspname != "public" && !rel.nspname.empty()) return std::nullopt;
  const bool update = std::holds_alternative<Update>(message);
  if (update && !old_tuple && (rel.relname == "items" || rel.relname == "orders")) {
    throw DecodeError("UPDATE of " + rel.relname + " without its old row: REPLICA IDENTITY FULL?");
  }
  const Row r = row(rel, *new_tuple, old_tuple);
  const std::optional<Row> old_row =
      old_tuple ? std::optional<Row>(row(rel, *old_tuple)) : std::nullopt;
  if (rel.relname == "items") {
    on_item(old_row ? &*old_row : nullptr, r);
  } else if (rel.relname == "orders") {
    on_order(old_row ? &*old_row : nullptr, r);
  } else if (rel.relname == "reservations" && !update) {
    leases_[text(col(r, "order_id"))] = {{"id", text(col(r, "id"))},
                                         {"expires_at", iso_time(col(r, "expires_at"))}};
  }
  return std::nullopt;
}

}  // namespace flashsale::plugins::pg_wal
