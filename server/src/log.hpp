// The process log: one line per message on stderr, "TIME NODE LEVEL source: text" (NODE is this
// replica's cluster.node_id, so the lines of many replicas can be merged).
#pragma once

#include <flashsale/sdk/host_context.hpp>
#include <string>
#include <string_view>

namespace flashsale::log {

using sdk::LogLevel;

/// Lines below `level` are dropped. Call once at start-up ("debug", "info", "warn", "error").
void set_level(const std::string& level);
/// Names this replica in every line from now on. Call once at start-up.
void set_node(const std::string& node_id);
/// Writes one line; thread-safe; newlines in `text` are escaped so a line stays a line. Warnings
/// and errors of one shape (the same text but for its numbers) go out at most 5 times in 10 s;
/// the rest are counted, and the first line after the window says how many, with the last.
void write(LogLevel level, std::string_view source, std::string_view text);

inline void info(std::string_view text) { write(LogLevel::info, "host", text); }
inline void warn(std::string_view text) { write(LogLevel::warn, "host", text); }
inline void error(std::string_view text) { write(LogLevel::error, "host", text); }

}  // namespace flashsale::log
