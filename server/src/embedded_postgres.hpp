// A private PostgreSQL cluster for when no database.url is configured (SPEC §7), also used by
// the tests as their throwaway cluster: initdb on first use, start on a free port, stop on exit.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace flashsale {

class EmbeddedPostgres {
 public:
  struct Options {
    std::filesystem::path dir;      ///< data folder; created and initialized if empty
    std::filesystem::path bin_dir;  ///< empty: the newest /usr/lib/postgresql/N/bin
  };

  /// Initializes (first run) and starts the cluster; throws std::runtime_error saying what failed.
  /// As root, the cluster runs as the `postgres` system user (PostgreSQL refuses root).
  explicit EmbeddedPostgres(const Options& options);
  /// Stops the cluster (fast shutdown: open sessions are rolled back).
  ~EmbeddedPostgres();
  EmbeddedPostgres(const EmbeddedPostgres&) = delete;
  EmbeddedPostgres& operator=(const EmbeddedPostgres&) = delete;

  /// libpq URL of the `flashsale` database as the `flashsale` superuser.
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  /// Restarts the cluster (fast shutdown, same data and port), as after a server crash.
  void restart();
  /// Immediate shutdown, for a second Ctrl-C: signals the postmaster and returns at once.
  void kill_now() const noexcept;

 private:
  /// The URL of the `flashsale` database of a cluster on 127.0.0.1:`port`.
  static std::string url_for(std::uint16_t port);
  /// argv run as the cluster's owner (via runuser when we are root).
  std::vector<std::string> as_owner(const std::vector<std::string>& argv) const;
  /// Runs a PostgreSQL tool; throws with its output if it fails.
  void run_tool(const std::vector<std::string>& argv) const;
  /// Runs a PostgreSQL tool; whether it exited 0.
  bool tool_succeeds(const std::vector<std::string>& argv) const;

  std::filesystem::path dir_;
  std::filesystem::path bin_dir_;
  std::string run_as_;  ///< "postgres" when we are root, else empty
  std::string url_;
};

}  // namespace flashsale
