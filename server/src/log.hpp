// The process log: one line per message on stderr, "TIME LEVEL source: text".
#pragma once

#include <flashsale/sdk/host_context.hpp>
#include <string>
#include <string_view>

namespace flashsale::log {

using sdk::LogLevel;

/// Lines below `level` are dropped. Call once at start-up ("debug", "info", "warn", "error").
void set_level(const std::string& level);
/// Writes one line; thread-safe; newlines in `text` are escaped so a line stays a line.
void write(LogLevel level, std::string_view source, std::string_view text);

inline void info(std::string_view text) { write(LogLevel::info, "host", text); }
inline void warn(std::string_view text) { write(LogLevel::warn, "host", text); }
inline void error(std::string_view text) { write(LogLevel::error, "host", text); }

}  // namespace flashsale::log
