// The `flashsale` command line: parses the subcommand and --config, maps failures to exit codes.
#include <cstring>
#include <iostream>
#include <optional>

#include "app.hpp"
#include "flashsale/pg.hpp"
#include "log.hpp"
#include "migrations.hpp"
#include "plugin_host.hpp"
#include "version.hpp"

namespace {

constexpr const char* kUsage =
    "usage: flashsale <command> [--config FILE]\n"
    "\n"
    "commands:\n"
    "  serve     run the service; with no database.url it starts a private PostgreSQL\n"
    "  migrate   apply the database migrations, then exit\n"
    "  version   print the version\n"
    "\n"
    "Settings come from the built-in defaults, then FILE, then FLASHSALE_* environment\n"
    "variables (docs/operations.md lists them all).\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace flashsale;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::cout << kUsage;
    return argc < 2 ? kExitRefused : kExitOk;
  }
  const std::string command = argv[1];
  if (command == "version" || command == "--version") {
    std::cout << "flashsale " << kVersion << " (plugin SDK ABI " << kSdkAbi << ")\n";
    return kExitOk;
  }
  std::optional<std::filesystem::path> config_file;
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_file = argv[++i];
    } else {
      std::cerr << "flashsale: unknown argument '" << argv[i] << "'\n\n" << kUsage;
      return kExitRefused;
    }
  }
  if (command != "serve" && command != "migrate") {
    std::cerr << "flashsale: unknown command '" << command << "'\n\n" << kUsage;
    return kExitRefused;
  }
  Config config;
  try {
    config = load_config(config_file, flashsale_environment());
  } catch (const ConfigError& e) {
    std::cerr << "flashsale: config error: " << e.what() << "\n";
    return kExitRefused;
  }
  try {
    return command == "serve" ? serve(config) : migrate(config);
  } catch (const PluginRefused& e) {
    log::error(e.what());
    return kExitRefused;
  } catch (const MigrationError& e) {
    log::error(std::string("migrations: ") + e.what());
    return kExitRefused;
  } catch (const std::exception& e) {
    log::error(e.what());
    return kExitFailure;
  }
}
