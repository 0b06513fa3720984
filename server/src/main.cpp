// The `flashsale` command line: parses the subcommand and --config, maps failures to exit codes.
#include <cstring>
#include <iostream>
#include <optional>

#include "app.hpp"
#include "event_bus.hpp"
#include "flashsale/pg.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "migrations.hpp"
#include "plugin_host.hpp"
#include "version.hpp"

namespace {

constexpr const char* kUsage =
    "usage: flashsale <command> [--config FILE]\n"
    "\n"
    "commands:\n"
    "  serve               run the service; with no database.url it starts a private PostgreSQL\n"
    "  migrate             apply the database migrations, then exit\n"
    "  check-plugin PLUGIN load PLUGIN (a path, or a name looked up in plugins.dir) as serve\n"
    "                      would, make its object with its plugin.<name> settings, print what\n"
    "                      it is (exit 0) or the refusal (exit 2); starts nothing\n"
    "  version             print the version\n"
    "\n"
    "Settings come from the built-in defaults, then FILE, then FLASHSALE_* environment\n"
    "variables (docs/operations.md lists them all).\n";

// Loads one plugin with the host's own loader and checks, without a database or listeners.
int check_plugin(const flashsale::Config& config, const std::string& file) {
  using namespace flashsale;
  Metrics metrics;
  EventBus events(1);
  PluginHost host(config, config.database_url, metrics, events);
  try {
    const auto& p = host.load({file, true});
    std::cout << "plugin " << p.path << " accepted: " << p.kind << " '" << p.name << "' "
              << p.version << " (SDK ABI " << kSdkAbi << ")\n";
    return kExitOk;
  } catch (const PluginRefused& e) {
    std::cerr << e.what() << "\n";
    return kExitRefused;
  }
}

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
  int first_option = 2;
  std::string plugin_file;
  if (command == "check-plugin") {
    if (argc < 3 || std::strncmp(argv[2], "--", 2) == 0) {
      std::cerr << "flashsale: check-plugin needs a PLUGIN\n\n" << kUsage;
      return kExitRefused;
    }
    plugin_file = argv[2];
    first_option = 3;
  }
  std::optional<std::filesystem::path> config_file;
  for (int i = first_option; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_file = argv[++i];
    } else {
      std::cerr << "flashsale: unknown argument '" << argv[i] << "'\n\n" << kUsage;
      return kExitRefused;
    }
  }
  if (command != "serve" && command != "migrate" && command != "check-plugin") {
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
    if (command == "check-plugin") return check_plugin(config, plugin_file);
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
