// The service's clock as seen from this machine: the local clock plus the offset measured when
// the last stream snapshot arrived (its server_time minus the local time). Sale states and
// countdowns use it, so a machine whose clock is off still counts to the server's deadlines.
#pragma once

#include <QDateTime>
#include <functional>

namespace flashsale::admin {

class ServerClock {
 public:
  using Source = std::function<qint64()>;  // milliseconds since 1970, UTC

  ServerClock();

  // A snapshot said the server's time is `server_time` now; invalid (an older server that does
  // not say): the local clock is used as it is.
  void sync(const QDateTime& server_time);
  // Server minus local, in milliseconds.
  [[nodiscard]] qint64 offset_ms() const { return offset_ms_; }
  // The server's time now, in milliseconds since 1970.
  [[nodiscard]] qint64 now_ms() const { return local_() + offset_ms_; }
  // now_ms as a function, for the models' clocks; valid while this clock lives.
  [[nodiscard]] std::function<qint64()> source() const {
    return [this] { return now_ms(); };
  }

  // For tests: another local clock.
  void set_local(Source local) { local_ = std::move(local); }

 private:
  Source local_;
  qint64 offset_ms_ = 0;
};

// A time span as a countdown, rounded up to the second: "0:07", "4:59", "1:01:01", "2 d 3:04:05".
QString time_left(qint64 ms);

}  // namespace flashsale::admin
