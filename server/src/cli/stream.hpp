// `flashsale stream`: a small WebSocket client for /v1/stream and /admin/stream, so an operator
// or a developer can watch events without installing anything (Debian packages no such tool).
#pragma once

#include <optional>
#include <string>

namespace flashsale::cli {

struct StreamOptions {
  std::string url = "ws://127.0.0.1:8080/v1/stream";  ///< ws://HOST[:PORT]/PATH
  std::string user;                                   ///< sent in `header` when not empty
  std::string header = "X-User-Id";
  std::string since;               ///< adds ?since= (an event id) when not empty
  std::optional<long long> count;  ///< stop after this many frames
};

/// Prints each frame on a line of its own until `count` frames, the server's close, or a
/// signal; returns the process exit code (0, or 1 on a refused or lost connection).
int stream(const StreamOptions& options);

}  // namespace flashsale::cli
