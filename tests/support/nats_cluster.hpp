// Real `nats-server` processes with JetStream for tests: one node, or a cluster on loopback,
// on ports picked free, each with its own store folder; nodes can be stopped and started again
// on the same ports and store.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "process.hpp"

namespace flashsale::test {

class NatsCluster {
 public:
  /// Starts `nodes` servers (a cluster when more than one) and waits until JetStream is up.
  explicit NatsCluster(int nodes);
  ~NatsCluster();  ///< kills every node
  NatsCluster(const NatsCluster&) = delete;
  NatsCluster& operator=(const NatsCluster&) = delete;

  /// "nats://127.0.0.1:P1,nats://127.0.0.1:P2,…": every node's client URL.
  [[nodiscard]] std::string servers() const;
  [[nodiscard]] std::size_t size() const { return nodes_.size(); }
  /// Kills node `i` (SIGKILL) and waits for it to end.
  void kill(int i);
  /// Starts node `i` again, on its ports and store (healthy() waits for it).
  void start(int i);
  /// True once every running node reports JetStream healthy (its monitoring /healthz).
  bool healthy(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  struct Node {
    std::uint16_t client_port = 0, cluster_port = 0, monitor_port = 0;
    std::filesystem::path store;
    process::Spawned child;
    bool running = false;
  };
  std::vector<Node> nodes_;
  std::filesystem::path dir_;
};

}  // namespace flashsale::test
