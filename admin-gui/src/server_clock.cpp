// See server_clock.hpp.
#include "server_clock.hpp"

namespace flashsale::admin {

ServerClock::ServerClock() : local_([] { return QDateTime::currentMSecsSinceEpoch(); }) {}

void ServerClock::sync(const QDateTime& server_time) {
  offset_ms_ = server_time.isValid() ? server_time.toMSecsSinceEpoch() - local_() : 0;
}

QString time_left(qint64 ms) {
  const qint64 s = (qMax<qint64>(ms, 0) + 999) / 1000;
  const auto two = [](qint64 n) { return QStringLiteral("%1").arg(n, 2, 10, QLatin1Char('0')); };
  if (s >= 86400) {
    return QStringLiteral("%1 d %2:%3:%4")
        .arg(s / 86400)
        .arg(s / 3600 % 24)
        .arg(two(s / 60 % 60), two(s % 60));
  }
  if (s >= 3600) {
    return QStringLiteral("%1:%2:%3").arg(s / 3600).arg(two(s / 60 % 60), two(s % 60));
  }
  return QStringLiteral("%1:%2").arg(s / 60).arg(two(s % 60));
}

}  // namespace flashsale::admin
