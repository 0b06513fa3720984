// The command line of the bench tools (`--flag value` or `--flag=value`), the flags they all
// have, their exit codes, and main() around a tool's parser and run.
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace flashsale::bench {

constexpr int kExitOk = 0;
constexpr int kExitRunFailed = 1;
constexpr int kExitUsage = 2;

/// A bad command line; an empty message asks for the usage text (--help).
struct UsageError {
  std::string message;
};

/// Printable ASCII, no spaces (header names, id prefixes).
inline bool printable_token(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

/// Walks a command line one flag at a time; the flag's handler takes its value.
class Args {
 public:
  explicit Args(const std::vector<std::string>& args) : args_(args) {}

  /// Moves to the next flag; false after the last one.
  bool next() {
    if (next_ >= args_.size()) return false;
    arg_ = next_++;
    flag_ = args_[arg_];
    inline_value_.reset();
    if (auto eq = flag_.find('='); flag_.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value_ = flag_.substr(eq + 1);
      flag_ = flag_.substr(0, eq);
    }
    return true;
  }

  [[nodiscard]] const std::string& flag() const { return flag_; }

  /// The value: after the '=', else the next argument.
  std::string value() {
    if (inline_value_) return *inline_value_;
    if (next_ >= args_.size()) throw UsageError{flag_ + ": missing value"};
    return args_[next_++];
  }

  /// A flag without a value: true, or a UsageError when one came with '='.
  [[nodiscard]] bool set() const {
    if (inline_value_) throw UsageError{flag_ + " takes no value"};
    return true;
  }

  template <typename T>
  T number() {
    return parse<T>(value());
  }

  /// A whole number in [lo, hi].
  template <typename T>
  T count(T lo, T hi) {
    const auto v = number<T>();
    if (v < lo || v > hi) {
      throw UsageError{flag_ + ": must be between " + std::to_string(lo) + " and " +
                       std::to_string(hi)};
    }
    return v;
  }

  /// A finite number in [lo, hi] (seconds, rates).
  double real(double lo, double hi = std::numeric_limits<double>::max()) {
    const std::string text = value();
    const auto v = parse<double>(text);
    if (!std::isfinite(v) || v < lo || v > hi) {
      throw UsageError{flag_ + ": out of range: '" + text + "'"};
    }
    return v;
  }

  /// The error for a flag the tool does not know.
  [[nodiscard]] UsageError unknown() const {
    return UsageError{"unknown argument '" + args_[arg_] + "'"};
  }

 private:
  template <typename T>
  T parse(const std::string& text) const {
    T v{};  // std::from_chars for double is fine in GCC 12
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec != std::errc() || ptr != end || text.empty()) {
      throw UsageError{flag_ + ": not a number: '" + text + "'"};
    }
    return v;
  }

  const std::vector<std::string>& args_;
  std::size_t next_ = 0;  // the next argument to read
  std::size_t arg_ = 0;   // where the current flag is
  std::string flag_;
  std::optional<std::string> inline_value_;
};

/// The options every tool has.
struct CommonOptions {
  std::string host = "127.0.0.1";
  unsigned port = 0;  // 0: not given
  bool progress = false;
  bool self_test = false;
};

/// Handles --help, --self-test, --progress, --host and --port; false for any other flag.
inline bool common_flag(Args& a, CommonOptions& o) {
  const auto& flag = a.flag();
  if (flag == "--help" || flag == "-h") throw UsageError{};
  if (flag == "--self-test") {
    o.self_test = a.set();
  } else if (flag == "--progress") {
    o.progress = a.set();
  } else if (flag == "--host") {
    o.host = a.value();
  } else if (flag == "--port") {
    o.port = static_cast<unsigned>(a.count<std::uint64_t>(1, 65535));
  } else {
    return false;
  }
  return true;
}

/// The options of the stream consumers (eventlag, wsbench): where, when to stop, what to measure.
struct StreamOptions : CommonOptions {
  explicit StreamOptions(std::string default_path) : path(std::move(default_path)) {}

  std::string path;
  double duration_s = 60;
  double connect_timeout_s = 10;
  double idle_s = 0;                 // 0: off
  bool idle_after_usr1 = false;      // the silence counts only after SIGUSR1
  std::int64_t measure_from_us = 0;  // events committed earlier are a warm-up, not measured
  std::string ready_file;            // written once ready (what that means is the tool's)
};

/// Handles --path, --duration, --connect-timeout, --idle, --idle-after-usr1, --measure-from,
/// --ready-file and the common flags; false for any other flag.
inline bool stream_flag(Args& a, StreamOptions& o) {
  if (common_flag(a, o)) return true;
  const auto& flag = a.flag();
  if (flag == "--path") {
    o.path = a.value();
    if (o.path.empty() || o.path[0] != '/') throw UsageError{"--path: must start with /"};
  } else if (flag == "--duration") {
    o.duration_s = a.real(0.001, 86400);
  } else if (flag == "--connect-timeout") {
    o.connect_timeout_s = a.real(0.001, 3600);
  } else if (flag == "--idle") {
    o.idle_s = a.real(0, 3600);
  } else if (flag == "--idle-after-usr1") {
    o.idle_after_usr1 = a.set();
  } else if (flag == "--measure-from") {
    o.measure_from_us = static_cast<std::int64_t>(std::llround(a.real(0, 1e11) * 1e6));
  } else if (flag == "--ready-file") {
    o.ready_file = a.value();
  } else {
    return false;
  }
  return true;
}

/// Once every flag is in: false for --self-test (nothing else matters then); else --port is
/// required.
inline bool run_wanted(const CommonOptions& o) {
  if (o.self_test) return false;
  if (o.port == 0) throw UsageError{"--port is required"};
  return true;
}

/// As above, and --idle-after-usr1 needs --idle.
inline bool run_wanted(const StreamOptions& o) {
  if (!run_wanted(static_cast<const CommonOptions&>(o))) return false;
  if (o.idle_after_usr1 && o.idle_s <= 0) throw UsageError{"--idle-after-usr1 needs --idle S"};
  return true;
}

/// A tool's main(): parses the arguments, then prints `usage` for --help (exit 0) or after a
/// usage error (exit 2), or returns `self_test()` or `run(options)`; an escaping exception is
/// reported (exit 1).
template <typename Parse, typename SelfTest, typename Run>
int tool_main(const char* tool, std::string_view usage, int argc, char** argv, Parse parse,
              SelfTest self_test, Run run) {
  try {
    const std::vector<std::string> args(argv + 1, argv + argc);
    std::invoke_result_t<Parse, const std::vector<std::string>&> options;
    try {
      options = parse(args);
    } catch (const UsageError& e) {
      if (e.message.empty()) {
        std::cout << usage;
        return kExitOk;
      }
      std::cerr << tool << ": " << e.message << "\n\n" << usage;
      return kExitUsage;
    }
    return options.self_test ? self_test() : run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", tool, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: unknown exception\n", tool);
  }
  return kExitRunFailed;
}

}  // namespace flashsale::bench
