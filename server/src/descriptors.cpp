// See descriptors.hpp.
#include "descriptors.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "log.hpp"

namespace flashsale {
namespace {

// What the process needs besides its connections: the database pools, the job workers, the CDC
// and event-stream connections, plugin and log files, the event loop's own descriptors, and the
// 503 answers to connections past a cap (http::Server keeps at most a few of those open).
constexpr std::size_t kReserved = 256;
constexpr std::size_t kMinAdmin = 32;

}  // namespace

ConnectionCaps fit_connections_to_descriptors(std::size_t configured) {
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  const rlim_t before = lim.rlim_cur;
  if (lim.rlim_cur != lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) {
      lim = raised;
    } else {
      log::warn("cannot raise the file descriptor limit from " + std::to_string(before) + " to " +
                std::to_string(lim.rlim_max) + ": " + std::strerror(errno));
    }
  }
  ConnectionCaps caps;
  caps.fd_limit = lim.rlim_cur == RLIM_INFINITY ? 1u << 30 : static_cast<std::size_t>(lim.rlim_cur);
  const std::size_t available =
      caps.fd_limit > 2 * kReserved ? caps.fd_limit - kReserved : caps.fd_limit / 2;
  caps.admin_max = std::min({configured, std::max(available / 8, kMinAdmin), available / 2});
  caps.public_max = std::min(configured, available - caps.admin_max);
  const std::string limit =
      "file descriptor limit " + std::to_string(caps.fd_limit) +
      (before != lim.rlim_cur ? " (raised from " + std::to_string(before) + ")" : std::string());
  if (caps.public_max < configured || caps.admin_max < configured) {
    log::warn(limit + ": http.max_connections (" + std::to_string(configured) + ") capped to " +
              std::to_string(caps.public_max) + " on the public listener and " +
              std::to_string(caps.admin_max) + " on the admin listener, keeping " +
              std::to_string(kReserved) +
              " for the database, jobs and files; raise the hard limit (LimitNOFILE=, ulimit "
              "-Hn) for more");
  } else {
    log::info(limit);
  }
  return caps;
}

}  // namespace flashsale
