// A bounded pool of libpq connections, opened on demand, each prepared with the plugin's
// statements. A broken connection is dropped and replaced on the next acquire.
#pragma once

#include <prometheus/gauge.h>

#include <chrono>
#include <condition_variable>
#include <flashsale/pg.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace flashsale::plugins {

class ConnectionPool {
 public:
  using Setup = std::function<void(pg::Connection&)>;

  ConnectionPool(std::string url, std::size_t size, Setup setup, prometheus::Gauge& in_use);

  /// A connection on loan; returned to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool& pool, std::unique_ptr<pg::Connection> conn)
        : pool_(&pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (conn_) pool_->give_back(std::move(conn_));
    }
    pg::Connection& operator*() const { return *conn_; }
    pg::Connection* operator->() const { return conn_.get(); }

   private:
    ConnectionPool* pool_;
    std::unique_ptr<pg::Connection> conn_;
  };

  /// Waits up to `timeout` for a connection; throws pg::Error when none frees up or a new one
  /// cannot be opened.
  Lease acquire(std::chrono::milliseconds timeout);

 private:
  void give_back(std::unique_ptr<pg::Connection> conn);

  std::string url_;
  std::size_t size_;
  Setup setup_;
  prometheus::Gauge& in_use_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pg::Connection>> idle_;
  std::size_t open_ = 0;  // idle + on loan
};

}  // namespace flashsale::plugins
