// See log.hpp.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace flashsale::log {
namespace {

std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_mutex;

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

void write(LogLevel level, std::string_view source, std::string_view text) {
  if (level < g_level.load()) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t secs = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  std::string line;
  line.reserve(text.size() + 48);
  line.append(stamp).append(" ").append(label(level)).append(" ").append(source).append(": ");
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
