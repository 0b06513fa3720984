// See throughput.hpp.
#include "throughput.hpp"

namespace flashsale::admin {

void Throughput::add(const QVector<Event>& batch) {
  for (const Event& e : batch) {
    const bool reserved = e.type == qt_name(event_type::kOrderReserved);
    if (!reserved && e.type != qt_name(event_type::kOrderExpired)) continue;
    const qint64 at = e.committed_at.toSecsSinceEpoch();
    if (at <= latest_ - window_s_) continue;  // older than anything shown
    latest_ = qMax(latest_, at);
    Second& s = seconds_[at];
    s.at = at;
    if (!reserved)
      ++s.expiries;
    else if (e.data.value("promoted").toBool())
      ++s.promotions;
    else
      ++s.reservations;
  }
  seconds_.erase(seconds_.begin(), seconds_.lower_bound(latest_ - window_s_ + 1));
}

QVector<Throughput::Second> Throughput::series(qint64 end_s) const {
  QVector<Second> out;
  out.reserve(window_s_);
  for (qint64 at = end_s - window_s_ + 1; at <= end_s; ++at) {
    const auto it = seconds_.find(at);
    out.push_back(it == seconds_.end() ? Second{at} : it->second);
  }
  return out;
}

}  // namespace flashsale::admin
