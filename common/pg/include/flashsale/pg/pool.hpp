// A bounded pool of libpq connections, opened on demand and set up once each (prepared
// statements, session settings). A broken connection is dropped, not returned. Shared by the
// PostgreSQL plugins.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flashsale/pg/connection.hpp"

namespace flashsale::pg {

class Pool {
 public:
  using Setup = std::function<void(Connection&)>;
  /// Called with +1 when a connection goes on loan and -1 when it comes back (e.g. a gauge).
  using OnLoan = std::function<void(int)>;

  /// `url` gets TCP keepalives (with_keepalives); `setup` runs on each new connection.
  Pool(const std::string& url, std::size_t size, Setup setup, OnLoan on_loan = {});

  /// A connection on loan; returned to the pool when destroyed.
  class Lease {
   public:
    Lease(Pool& pool, std::unique_ptr<Connection> conn) : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    Connection& operator*() const { return *conn_; }
    Connection* operator->() const { return conn_.get(); }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  /// Waits up to `timeout` for a connection; throws Error (SQLSTATE 53300) when none frees up,
  /// or the connect error when a new one cannot be opened.
  Lease acquire(std::chrono::milliseconds timeout);

 private:
  void give_back(std::unique_ptr<Connection> conn);

  std::string url_;
  std::size_t size_;
  Setup setup_;
  OnLoan on_loan_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::size_t open_ = 0;  // idle + on loan
};

}  // namespace flashsale::pg
