// Runs the real `flashsale` binary for end-to-end tests: ports bound to 0 and read from its
// log, polling with deadlines instead of fixed sleeps.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"

namespace flashsale::test {

/// Polls `done` every few milliseconds until it is true or `timeout` passes.
bool eventually(const std::function<bool()>& done,
                std::chrono::milliseconds timeout = std::chrono::seconds(10));

class ServiceProcess {
 public:
  /// Starts `flashsale <args...>` with the extra environment ("K=V"); HTTP ports default to 0.
  /// `launcher`, if any, comes first and execs the rest (e.g. a shell that sets a ulimit).
  ServiceProcess(std::vector<std::string> args, std::vector<std::string> env,
                 std::vector<std::string> launcher = {});
  ~ServiceProcess();  ///< kills the process if it still runs
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  /// Waits for the "listening:" log line and reads the ports from it; false if it exited.
  bool wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Waits for the process to end; its exit code, or nullopt on timeout.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  void signal(int signo) const;
  [[nodiscard]] std::string log() const;
  [[nodiscard]] pid_t pid() const { return child_.pid; }

  std::uint16_t public_port = 0;
  std::uint16_t admin_port = 0;

 private:
  std::filesystem::path log_file_;
  process::Spawned child_;
  std::optional<int> exit_code_;
};

/// `flashsale serve` as replica `node` of the database at `database_url` (SPEC §10), with
/// `extra_env` ("K=V"); returns once it listens, throws if it exits first.
std::unique_ptr<ServiceProcess> start_replica(const std::string& database_url,
                                              const std::string& node,
                                              std::vector<std::string> extra_env = {});

/// True when `s` answers GET /readyz with 200 (false also when it does not answer at all).
bool ready(const ServiceProcess& s);

/// One `flashsale serve` per test binary, on its own fresh database, started on first use and
/// stopped at exit. Tests share it and keep apart by using their own items and users.
struct SharedService {
  std::string database_url;
  std::uint16_t public_port = 0;
  std::uint16_t admin_port = 0;
};
const SharedService& shared_service();

/// A name no other test of this run uses, e.g. "burst-3".
std::string unique_name(const std::string& prefix);

}  // namespace flashsale::test
