// See log.hpp.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <flashsale/sdk/events.hpp>
#include <mutex>

namespace flashsale::log {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_mutex;
std::string g_node = "-";  // set once, before any thread but main() writes

const char* label(LogLevel level) {
  switch (level) {
    case LogLevel::debug:
      return "DEBUG";
    case LogLevel::info:
      return "INFO ";
    case LogLevel::warn:
      return "WARN ";
    default:
      return "ERROR";
  }
}

}  // namespace

void set_level(const std::string& level) {
  g_level = level == "debug"   ? LogLevel::debug
            : level == "warn"  ? LogLevel::warn
            : level == "error" ? LogLevel::error
                               : LogLevel::info;
}

void set_node(const std::string& node_id) { g_node = node_id; }

void write(LogLevel level, std::string_view source, std::string_view text) {
  if (level < g_level.load()) return;
  std::string line;
  line.reserve(text.size() + g_node.size() + 48);
  line.append(sdk::rfc3339(sdk::now_unix_us()))
      .append(" ")
      .append(g_node)
      .append(" ")
      .append(label(level))
      .append(" ")
      .append(source)
      .append(": ");
  for (char c : text) {
    if (c == '\n') {
      line += "\\n";
    } else {
      line += c;
    }
  }
  line += '\n';
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace flashsale::log
