// Sockets: the server's address, and enough file descriptors for many connections.
#pragma once

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <iostream>
#include <optional>
#include <string>

namespace flashsale::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;

/// The first address of host:port; nullopt, after "TOOL: cannot resolve HOST: why" on stderr,
/// when there is none.
inline std::optional<tcp::endpoint> resolve(net::io_context& ioc, const std::string& host,
                                            unsigned port, const char* tool) {
  tcp::resolver resolver(ioc);
  boost::system::error_code ec;
  const auto results = resolver.resolve(host, std::to_string(port), ec);
  if (ec || results.empty()) {
    std::cerr << tool << ": cannot resolve " << host << ": " << ec.message() << "\n";
    return std::nullopt;
  }
  return results.begin()->endpoint();
}

/// Raises RLIMIT_NOFILE to at least `wanted` (the hard limit too, which needs privileges).
/// Returns the soft limit in effect.
inline rlim_t raise_nofile(rlim_t wanted) {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur >= wanted) return limit.rlim_cur;
  if (limit.rlim_max < wanted) {
    rlimit both{wanted, wanted};
    if (setrlimit(RLIMIT_NOFILE, &both) == 0) return wanted;
  }
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace flashsale::bench
