// See nats_cluster.hpp.
#include "support/nats_cluster.hpp"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "support/http_client.hpp"
#include "support/service.hpp"
#include "support/test_cluster.hpp"

namespace flashsale::test {
namespace {

// A loopback port nothing listens on now (the kernel's pick for port 0).
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("no free loopback port");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// The log of the node whose JetStream store is `store`.
std::string log_path(const std::filesystem::path& store) { return store.string() + ".log"; }

// The last 1,000 bytes of a node's log.
std::string log_end(const std::filesystem::path& store) {
  const std::string text = read_file(log_path(store));
  return text.size() > 1000 ? text.substr(text.size() - 1000) : text;
}

}  // namespace

NatsCluster::NatsCluster(int nodes) : dir_(temp_dir()) {
  nodes_.resize(static_cast<std::size_t>(nodes));
  // A port picked free can be taken by another test before its server binds it (tests run in
  // parallel): then the cluster starts afresh on new ports and stores, a few times. A failed
  // attempt leaves no process behind: a throwing constructor runs no destructor.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      auto& n = nodes_[i];
      n.client_port = free_port();
      n.cluster_port = free_port();
      n.monitor_port = free_port();
      n.store = dir_ / ("n" + std::to_string(i) + "-" + std::to_string(attempt));
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) start(static_cast<int>(i));
    if (healthy()) return;
    std::string logs;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      kill(static_cast<int>(i));
      logs += "\n" + log_path(nodes_[i].store) + " ends with:\n" + log_end(nodes_[i].store);
    }
    if (attempt == kAttempts) {
      throw std::runtime_error("nats-server: JetStream did not come up within 30 s, " +
                               std::to_string(kAttempts) + " times" + logs);
    }
  }
}

NatsCluster::~NatsCluster() {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].running) kill(static_cast<int>(i));
  }
}

std::string NatsCluster::servers() const {
  std::string list;
  for (const auto& n : nodes_) {
    list += (list.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
            std::to_string(n.client_port);
  }
  return list;
}

void NatsCluster::kill(int i) {
  auto& n = nodes_.at(static_cast<std::size_t>(i));
  ::kill(n.child.pid, SIGKILL);
  process::wait(n.child, std::chrono::seconds(10));
  n.running = false;
}

void NatsCluster::start(int i) {
  auto& n = nodes_.at(static_cast<std::size_t>(i));
  std::vector<std::string> argv{"nats-server",
                                "--addr",
                                "127.0.0.1",
                                "--port",
                                std::to_string(n.client_port),
                                "--http_port",
                                std::to_string(n.monitor_port),
                                "--jetstream",
                                "--store_dir",
                                n.store.string(),
                                "--server_name",
                                "n" + std::to_string(i)};
  if (nodes_.size() > 1) {
    std::string routes;
    for (const auto& other : nodes_) {
      if (&other == &n) continue;
      routes += (routes.empty() ? "" : ",") + std::string("nats://127.0.0.1:") +
                std::to_string(other.cluster_port);
    }
    argv.insert(argv.end(),
                {"--cluster_name", "flashsale-test", "--cluster",
                 "nats://127.0.0.1:" + std::to_string(n.cluster_port), "--routes", routes});
  }
  n.child = process::spawn(argv, log_path(n.store));
  n.running = true;
}

bool NatsCluster::healthy(std::chrono::milliseconds timeout) const {
  return eventually(
      [&] {
        for (const auto& n : nodes_) {
          if (!n.running) continue;
          try {
            if (http_request(n.monitor_port, "GET", "/healthz").status != 200) return false;
          } catch (const std::exception&) {
            return false;
          }
        }
        return true;
      },
      timeout);
}

}  // namespace flashsale::test
