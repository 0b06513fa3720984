// Fuzz target: the service configuration, a file merged over the defaults and then FLASHSALE_*
// environment overrides, as `flashsale serve --config FILE` loads it. The input is the file's
// text, then optionally a NUL and NUL-separated NAME=VALUE entries, each set as the variable
// FLASHSALE_NAME (an empty file part: no --config). Whatever the input, load_config must give a
// configuration or a ConfigError naming the problem (what main() reports as a config error).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"

namespace {

using namespace flashsale;

[[noreturn]] void defect(const std::string& what) {
  std::fprintf(stderr, "defect: %s\n", what.c_str());
  std::abort();
}

// The config file, in memory: rewritten for each input, read through its /proc path.
int config_fd = -1;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Only the input's variables count: none of the caller's shell.
  for (const auto& [name, value] : flashsale_environment()) unsetenv(name.c_str());
  config_fd = memfd_create("flashsale-fuzz-config", 0);
  if (config_fd < 0) defect("memfd_create failed");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::string_view text = input.substr(0, input.find('\0'));
  std::optional<std::filesystem::path> file;
  if (!text.empty()) {
    if (ftruncate(config_fd, 0) != 0 ||
        pwrite(config_fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
      defect("cannot write the config file");
    }
    file = "/proc/self/fd/" + std::to_string(config_fd);
  }
  std::vector<std::string> variables;
  for (std::size_t at = text.size(); at < input.size();) {
    const std::size_t end = std::min(input.find('\0', at + 1), input.size());
    const std::string entry(input.substr(at + 1, end - at - 1));
    at = end;
    const auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    variables.push_back("FLASHSALE_" + entry.substr(0, eq));
    setenv(variables.back().c_str(), entry.c_str() + eq + 1, 1);
  }

  try {
    const Config config = load_config(file, flashsale_environment());
    // application_name of the database sessions leaves the node id 40 bytes (config.cpp).
    if (config.node_id.empty() || config.node_id.size() > 40) defect("node id " + config.node_id);
    // What the plugin host asks for each plugin that has a section, by its name.
    std::vector<std::string> names;
    for (const auto& [name, section] : config.tree.at("plugin").items()) {
      names.push_back(name);
      (void)config.plugin_config(name);
    }
    (void)config.unclaimed_plugin_variables(names);
  } catch (const ConfigError&) {
  }
  for (const auto& name : variables) unsetenv(name.c_str());
  return 0;
}
