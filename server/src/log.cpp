// See log.hpp.
#include "log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <flashsale/sdk/events.hpp>
#include <mutex>
#include <unordered_map>

namespace flashsale::log {
namespace {

// Repeated warnings and errors: a line whose shape (source, and text with its numbers taken
// out) was written kBurst times in a window is held back until the window ends; the first line
// written after that says how many were held back and shows the last. An outage that fails every
// request then costs a few lines per window, not one per request.
constexpr std::int64_t kWindowUs = 10'000'000;
constexpr int kBurst = 5;
constexpr std::size_t kMaxShapes = 1000;  // beyond that, lines go out unlimited

struct Burst {
  std::int64_t window_start_us = 0;
  int written = 0;
  int held = 0;
  LogLevel level = LogLevel::warn;
  std::string last;  // the text of the last line held back
};

std::atomic<LogLevel> g_level{LogLevel::info};
std::mutex g_mutex;
std::string g_node = "-";                         // set once, before any thread but main() writes
std::unordered_map<std::string, Burst> g_bursts;  // by shape; under g_mutex
std::int64_t g_next_sweep_us = 0;

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

std::string format(std::int64_t now_us, LogLevel level, std::string_view source,
                   std::string_view text) {
  std::string line;
  line.reserve(text.size() + g_node.size() + 48);
  line.append(sdk::rfc3339(now_us))
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
  return line;
}

std::string shape(std::string_view source, std::string_view text) {
  std::string key(source);
  key += '\0';
  for (char c : text) {
    const bool digit = c >= '0' && c <= '9';
    if (!digit) {
      key += c;
    } else if (key.back() != '#') {
      key += '#';
    }
  }
  return key;
}

void emit(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

// Under g_mutex: ends the windows that are over, saying what each held back.
void sweep(std::int64_t now_us) {
  if (now_us < g_next_sweep_us) return;
  g_next_sweep_us = now_us + kWindowUs / 10;
  for (auto it = g_bursts.begin(); it != g_bursts.end();) {
    Burst& b = it->second;
    if (now_us - b.window_start_us < kWindowUs) {
      ++it;
      continue;
    }
    if (b.held > 0) {
      const std::string source = it->first.substr(0, it->first.find('\0'));
      emit(format(now_us, b.level, source,
                  std::to_string(b.held) + " more like this in " +
                      std::to_string(kWindowUs / 1'000'000) +
                      " s were held back; the last: " + b.last));
    }
    it = g_bursts.erase(it);
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
  const auto now_us = sdk::now_unix_us();
  std::string line = format(now_us, level, source, text);
  std::lock_guard lock(g_mutex);
  sweep(now_us);
  if (level >= LogLevel::warn && g_bursts.size() < kMaxShapes) {
    auto [it, added] = g_bursts.try_emplace(shape(source, text));
    Burst& b = it->second;
    if (added) b.window_start_us = now_us;
    if (b.written == kBurst) {
      ++b.held;
      b.level = level;
      b.last = text;
      return;
    }
    ++b.written;
  }
  emit(line);
}

}  // namespace flashsale::log
