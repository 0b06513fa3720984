// See service.hpp.
#include "support/service.hpp"

#include <signal.h>

#include <atomic>
#include <memory>
#include <regex>
#include <thread>

#include "support/http_client.hpp"
#include "support/test_cluster.hpp"

namespace flashsale::test {

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

ServiceProcess::ServiceProcess(std::vector<std::string> args, std::vector<std::string> env,
                               std::vector<std::string> launcher)
    : log_file_(temp_dir() / "service.log") {
  args.insert(args.begin(), FLASHSALE_BIN);
  args.insert(args.begin(), launcher.begin(), launcher.end());
  env.insert(env.begin(),
             {"FLASHSALE_HTTP_LISTEN=127.0.0.1:0", "FLASHSALE_ADMIN_LISTEN=127.0.0.1:0"});
  child_ = process::spawn(args, log_file_, env);
}

ServiceProcess::~ServiceProcess() {
  if (!exit_code_) {
    ::kill(child_.pid, SIGKILL);
    process::wait(child_, std::chrono::seconds(10));
  }
}

bool ServiceProcess::wait_listening(std::chrono::milliseconds timeout) {
  static const std::regex line(R"(listening: public http://[^:]+:(\d+), admin http://[^:]+:(\d+))");
  return eventually(
      [&] {
        std::smatch m;
        const std::string text = log();
        if (std::regex_search(text, m, line)) {
          public_port = static_cast<std::uint16_t>(std::stoi(m[1]));
          admin_port = static_cast<std::uint16_t>(std::stoi(m[2]));
          return true;
        }
        if (!exit_code_) exit_code_ = process::wait(child_, std::chrono::milliseconds(0));
        if (exit_code_) throw std::runtime_error("flashsale exited early:\n" + text);
        return false;
      },
      timeout);
}

std::optional<int> ServiceProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (!exit_code_) exit_code_ = process::wait(child_, timeout);
  return exit_code_;
}

void ServiceProcess::signal(int signo) const { ::kill(child_.pid, signo); }

std::string ServiceProcess::log() const { return read_file(log_file_); }

std::unique_ptr<ServiceProcess> start_replica(const std::string& database_url,
                                              const std::string& node,
                                              std::vector<std::string> extra_env) {
  extra_env.insert(extra_env.begin(),
                   {"FLASHSALE_DATABASE_URL=" + database_url, "FLASHSALE_CLUSTER_NODE_ID=" + node});
  auto s =
      std::make_unique<ServiceProcess>(std::vector<std::string>{"serve"}, std::move(extra_env));
  if (!s->wait_listening()) throw std::runtime_error("replica " + node + " did not listen in time");
  return s;
}

bool ready(const ServiceProcess& s) {
  try {
    return http_request(s.public_port, "GET", "/readyz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

const SharedService& shared_service() {
  static std::unique_ptr<ServiceProcess> process;
  static const SharedService service = [] {
    SharedService s;
    s.database_url = fresh_database();
    process = std::make_unique<ServiceProcess>(
        std::vector<std::string>{"serve"},
        std::vector<std::string>{"FLASHSALE_DATABASE_URL=" + s.database_url,
                                 "FLASHSALE_WORKERS_THREADS=8"});
    if (!process->wait_listening())
      throw std::runtime_error("flashsale did not start:\n" + process->log());
    s.public_port = process->public_port;
    s.admin_port = process->admin_port;
    return s;
  }();
  return service;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(++counter);
}

}  // namespace flashsale::test
