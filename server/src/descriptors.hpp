// File descriptors. A service at its descriptor limit can neither accept nor reach its database
// nor run a job (each needs a socket or an eventfd), and its 503 cap never engages. So at start
// it raises its soft limit to the hard one, and caps each listener's connections to what is left
// after the descriptors the rest of the process needs.
#pragma once

#include <cstddef>

namespace flashsale {

struct ConnectionCaps {
  std::size_t fd_limit = 0;    ///< the soft limit, after raising it
  std::size_t public_max = 0;  ///< open connections of the public listener (WebSockets included)
  /// Of the admin listener: a share of its own, so operators still get in when the public
  /// listener is full.
  std::size_t admin_max = 0;
};

/// Raises RLIMIT_NOFILE's soft limit to the hard limit, then fits `configured`
/// (http.max_connections, per listener) to it; logs the limit, and the caps when they bite.
ConnectionCaps fit_connections_to_descriptors(std::size_t configured);

}  // namespace flashsale
