// See throughput.hpp.
#include "throughput.hpp"

namespace flashsale::admin {

void Throughput::add(const QVector<Event>& batch) {
  for (const Event& e : batch) {
    const bool reserved = e.type == qt_name(event_type::kOrderReserved);
    const bool waiting = e.type == qt_name(event_type::kOrderWaiting);
    if (!reserved && !waiting && e.type != qt_name(event_type::kOrderExpired)) continue;
    const qint64 at = e.committed_at.toSecsSinceEpoch();
    if (at <= latest_ - window_s_) continue;  // older than anything shown
    latest_ = qMax(latest_, at);
    Second& s = seconds_[at][e.item_id];
    s.at = at;
    if (waiting) {
      ++s.joins;
    } else if (!reserved) {
      ++s.expiries;
    } else if (e.data.value("promoted").toBool()) {
      ++s.promotions;
    } else {
      ++s.joins;
      ++s.reservations;
    }
  }
  seconds_.erase(seconds_.begin(), seconds_.lower_bound(latest_ - window_s_ + 1));
}

void Throughput::backfill(const QString& item_id, const ActivityWindow& window) {
  backfill_item_ = item_id;
  backfill_before_ = window.now;
  backfill_.clear();
  for (const Second& s : window.seconds) {
    if (s.at < window.now) backfill_.insert(s.at, s);
  }
}

void Throughput::clear_backfill() {
  backfill_item_.reset();
  backfill_.clear();
}

bool Throughput::has_backfill(const QString& item_id) const { return backfill_item_ == item_id; }

QVector<Throughput::Second> Throughput::series(qint64 end_s, const QString& item_id) const {
  QVector<Second> out;
  out.reserve(window_s_);
  const bool backfilled = has_backfill(item_id);
  for (qint64 at = end_s - window_s_ + 1; at <= end_s; ++at) {
    if (backfilled && at < backfill_before_) {
      out.push_back(backfill_.value(at, Second{at}));
      continue;
    }
    Second sum{at};
    const auto it = seconds_.find(at);
    if (it != seconds_.end()) {
      for (auto item = it->second.cbegin(); item != it->second.cend(); ++item) {
        if (!item_id.isEmpty() && item.key() != item_id) continue;
        sum.joins += item->joins;
        sum.reservations += item->reservations;
        sum.promotions += item->promotions;
        sum.expiries += item->expiries;
      }
    }
    out.push_back(sum);
  }
  return out;
}

}  // namespace flashsale::admin
