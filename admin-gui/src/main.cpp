// flashsale-admin: the operators' dashboard. Usage: flashsale-admin [SERVER] [--item ID]
// [--tab NAME] [--screenshot FILE [--screenshot-after SECONDS]].
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include "main_window.hpp"

namespace {

struct Options {
  QCommandLineOption item{{"i", "item"}, "Select this item at start.", "id"};
  QCommandLineOption tab{"tab",
                         "Show this side tab at start: activity (the default), plugins, jobs, "
                         "line or orders.",
                         "name"};
  QCommandLineOption shot{"screenshot", "Save a PNG of the window, then quit.", "file"};
  QCommandLineOption shot_after{"screenshot-after", "Seconds before the screenshot (8).", "seconds",
                                "8"};
};

void describe(QCommandLineParser& parser, const Options& options) {
  parser.setApplicationDescription("Live dashboard for a flashsale service's admin API.");
  parser.addHelpOption();
  parser.addPositionalArgument(
      "server", "Admin API address, e.g. http://127.0.0.1:8081 (default: the last one used).");
  parser.addOptions({options.item, options.tab, options.shot, options.shot_after});
}

bool has_argument(int argc, char** argv, std::initializer_list<const char*> names) {
  for (int i = 1; i < argc; ++i) {
    for (const char* name : names) {
      if (std::strcmp(argv[i], name) == 0) return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (has_argument(argc, argv, {"--help", "-h", "-?", "--help-all"})) {
    // Help needs no window system: print it without making a QApplication (which aborts
    // when there is no display).
    QCoreApplication app(argc, argv);
    QCommandLineParser parser;
    describe(parser, options);
    parser.process(app);  // prints the help and exits 0
  }
  if (qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY") &&
      qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") && !has_argument(argc, argv, {"-platform"})) {
    std::fprintf(stderr,
                 "flashsale-admin: no display (DISPLAY and WAYLAND_DISPLAY are not set). Without "
                 "one, take a picture instead: QT_QPA_PLATFORM=offscreen flashsale-admin SERVER "
                 "--screenshot FILE\n");
    return 2;
  }
  QApplication app(argc, argv);
  QApplication::setOrganizationName("flashsale");
  QApplication::setApplicationName("flashsale-admin");

  QCommandLineParser parser;
  describe(parser, options);
  parser.process(app);

  QUrl server = flashsale::admin::MainWindow::remembered_server();
  if (!parser.positionalArguments().isEmpty()) {
    server = flashsale::admin::server_url(parser.positionalArguments().first());
    if (!server.isValid()) {
      std::fprintf(stderr, "flashsale-admin: '%s' is not a server address (e.g. 127.0.0.1:8081)\n",
                   qPrintable(parser.positionalArguments().first()));
      return 2;
    }
  }

  flashsale::admin::MainWindow window;
  window.show();
  window.connect_to(server);
  if (parser.isSet(options.item)) window.select_item(parser.value(options.item));
  if (parser.isSet(options.tab) && !window.show_tab(parser.value(options.tab))) {
    std::fprintf(stderr, "flashsale-admin: no tab '%s'; the tabs are %s\n",
                 qPrintable(parser.value(options.tab)),
                 qPrintable(flashsale::admin::MainWindow::kTabs.join(", ")));
    return 2;
  }
  if (parser.isSet(options.shot)) {
    const QString file = parser.value(options.shot);
    QTimer::singleShot(qRound(parser.value(options.shot_after).toDouble() * 1000), &window, [&] {
      const bool saved = window.grab().save(file);
      std::fprintf(stderr, "flashsale-admin: %s %s\n", saved ? "saved" : "could not save",
                   qPrintable(file));
      QApplication::exit(saved ? 0 : 1);
    });
  }
  return QApplication::exec();
}
