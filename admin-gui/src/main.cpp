// flashsale-admin: the operators' dashboard. Usage: flashsale-admin [SERVER] [--item ID]
// [--screenshot FILE [--screenshot-after SECONDS]].
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>
#include <cstdio>

#include "main_window.hpp"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("flashsale");
  QApplication::setApplicationName("flashsale-admin");

  QCommandLineParser parser;
  parser.setApplicationDescription("Live dashboard for a flashsale service's admin API.");
  parser.addHelpOption();
  parser.addPositionalArgument(
      "server", "Admin API address, e.g. http://127.0.0.1:8081 (default: the last one used).");
  const QCommandLineOption item({"i", "item"}, "Select this item at start.", "id");
  const QCommandLineOption shot("screenshot", "Save a PNG of the window, then quit.", "file");
  const QCommandLineOption shot_after("screenshot-after", "Seconds before the screenshot (8).",
                                      "seconds", "8");
  parser.addOptions({item, shot, shot_after});
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
  if (parser.isSet(item)) window.select_item(parser.value(item));
  if (parser.isSet(shot)) {
    const QString file = parser.value(shot);
    QTimer::singleShot(qRound(parser.value(shot_after).toDouble() * 1000), &window, [&] {
      const bool saved = window.grab().save(file);
      std::fprintf(stderr, "flashsale-admin: %s %s\n", saved ? "saved" : "could not save",
                   qPrintable(file));
      QApplication::exit(saved ? 0 : 1);
    });
  }
  return QApplication::exec();
}
