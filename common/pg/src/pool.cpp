// See flashsale/pg/pool.hpp.
#include "flashsale/pg/pool.hpp"

namespace flashsale::pg {

Pool::Pool(const std::string& url, std::size_t size, Setup setup, OnLoan on_loan)
    : url_(with_keepalives(url)),
      size_(size),
      setup_(std::move(setup)),
      on_loan_(std::move(on_loan)) {}

Pool::Lease Pool::acquire(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const bool available =
      freed_.wait_for(lock, timeout, [this] { return !idle_.empty() || open_ < size_; });
  if (!available) throw Error("database busy: no free connection", "53300");
  if (on_loan_) on_loan_(+1);
  if (!idle_.empty()) {
    auto conn = std::move(idle_.back());
    idle_.pop_back();
    return Lease(*this, std::move(conn));
  }
  ++open_;
  lock.unlock();
  try {
    auto conn = std::make_unique<Connection>(url_);
    if (setup_) setup_(*conn);
    return Lease(*this, std::move(conn));
  } catch (...) {
    lock.lock();
    --open_;
    if (on_loan_) on_loan_(-1);
    freed_.notify_one();
    throw;
  }
}

void Pool::give_back(std::unique_ptr<Connection> conn) {
  {
    std::lock_guard lock(mutex_);
    if (on_loan_) on_loan_(-1);
    // A connection in a failed or unknown state is closed rather than reused.
    if (conn->idle()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;
    }
  }
  freed_.notify_one();
}

}  // namespace flashsale::pg
