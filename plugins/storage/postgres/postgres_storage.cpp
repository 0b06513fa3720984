// storage/postgres: the inventory semaphore and order lifecycle in PostgreSQL (SPEC §2).
// So far it owns the health probe; the lifecycle operations arrive with their issue.
#include <flashsale/pg.hpp>
#include <flashsale/sdk/storage.hpp>
#include <memory>
#include <mutex>

namespace flashsale::plugins {

class PostgresStorage final : public sdk::Storage {
 public:
  explicit PostgresStorage(sdk::HostContext& host) : host_(host) {
    if (!host.config().empty()) {
      throw std::invalid_argument("unknown key plugin.postgres." + host.config().begin().key());
    }
  }

  sdk::Health health() override {
    std::lock_guard lock(probe_mutex_);
    try {
      if (!probe_ || !probe_->ok()) probe_ = std::make_unique<pg::Connection>(host_.database_url());
      probe_->exec("SELECT 1");
      return {true, "database reachable"};
    } catch (const pg::Error& e) {
      probe_.reset();
      return {false, e.what()};
    }
  }

 private:
  sdk::HostContext& host_;
  std::mutex probe_mutex_;
  std::unique_ptr<pg::Connection> probe_;
};

}  // namespace flashsale::plugins

FLASHSALE_PLUGIN(flashsale::plugins::PostgresStorage, "postgres", "0.1.0")
