// See test_cluster.hpp.
#include "support/test_cluster.hpp"

#include <unistd.h>

#include <atomic>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <vector>

#include "embedded_postgres.hpp"
#include "event_bus.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"

namespace flashsale::test {
namespace {

struct Folders {
  std::mutex mutex;
  std::vector<std::filesystem::path> paths;
  ~Folders() {
    std::error_code ec;
    for (const auto& p : paths) std::filesystem::remove_all(p, ec);
  }
};

Folders& folders() {
  static Folders f;
  return f;
}

EmbeddedPostgres& cluster() {
  // Created after folders(), so destroyed before it: the cluster stops, then its folder goes.
  static std::unique_ptr<EmbeddedPostgres> pg = [] {
    const auto dir = temp_dir() / "pg";
    return std::make_unique<EmbeddedPostgres>(EmbeddedPostgres::Options{dir, {}});
  }();
  return *pg;
}

}  // namespace

std::filesystem::path temp_dir() {
  auto& f = folders();
  char pattern[] = "/tmp/flashsale-test-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  // Traversable, so a cluster inside can run as the postgres user when the tests run as root.
  std::filesystem::permissions(pattern, std::filesystem::perms::owner_all |
                                            std::filesystem::perms::group_exec |
                                            std::filesystem::perms::others_exec);
  std::lock_guard lock(f.mutex);
  f.paths.emplace_back(pattern);
  return f.paths.back();
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

std::string fresh_database() {
  static std::atomic<int> counter{0};
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  const std::string& url = cluster().url();
  const std::string name = "test_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
  pg::Connection(url).exec("CREATE DATABASE " + name);
  const auto slash = url.rfind('/');
  const auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + name + (query == std::string::npos ? "" : url.substr(query));
}

void migrate_plugins(const std::string& url, const std::vector<std::string>& files) {
  Config config = load_config(std::nullopt, {});
  config.plugins_dir = FLASHSALE_PLUGIN_DIR;
  config.plugins.clear();
  for (const auto& file : files) config.plugins.push_back({file, true});
  Metrics metrics;
  EventBus bus(1);
  PluginHost host(config, url, metrics, bus);
  for (const auto& entry : config.plugins) host.load(entry);
  host.migrate_all();
}

}  // namespace flashsale::test
