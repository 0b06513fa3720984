// Running other programs (PostgreSQL's tools, and in tests the service itself): spawn with a
// new session so a terminal's Ctrl-C reaches only us, capture output, wait with a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace flashsale::process {

struct Spawned {
  pid_t pid = -1;
};

/// Starts argv[0] (searched in PATH) with `extra_env` ("K=V") added to this environment,
/// stdout and stderr appended to `output_file`. Throws std::runtime_error if it cannot start.
Spawned spawn(const std::vector<std::string>& argv, const std::filesystem::path& output_file,
              const std::vector<std::string>& extra_env = {});

/// Waits up to `timeout` for the child; returns its exit code (128+N if killed by signal N),
/// or nullopt if still running.
std::optional<int> wait(Spawned child, std::chrono::milliseconds timeout);

/// Runs a program to completion; returns its exit code and puts its combined output in `output`.
int run(const std::vector<std::string>& argv, std::string& output);

/// A command line, for messages.
std::string describe(const std::vector<std::string>& argv);

}  // namespace flashsale::process
