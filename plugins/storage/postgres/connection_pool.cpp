// See connection_pool.hpp.
#include "connection_pool.hpp"

namespace flashsale::plugins {

ConnectionPool::ConnectionPool(std::string url, std::size_t size, Setup setup,
                               prometheus::Gauge& in_use)
    : url_(pg::with_keepalives(url)), size_(size), setup_(std::move(setup)), in_use_(in_use) {}

ConnectionPool::Lease ConnectionPool::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool available =
      freed_.wait_for(lock, timeout, [this] { return !idle_.empty() || open_ < size_; });
  if (!available) throw pg::Error("database busy: no free connection", "53300");
  in_use_.Increment();
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  try {
    auto conn = std::make_unique<pg::Connection>(url_);
    setup_(*conn);
    return Lease(*this, std::move(conn));
  } catch (...) {
    lock.lock();
    --open_;
    in_use_.Decrement();
    freed_.notify_one();
    throw;
  }
}

void ConnectionPool::give_back(std::unique_ptr<pg::Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    in_use_.Decrement();
    // A connection in a failed or unknown state is closed rather than reused.
    if (conn->ok() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

}  // namespace flashsale::plugins
