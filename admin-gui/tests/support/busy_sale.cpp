// See busy_sale.hpp.
#include "busy_sale.hpp"

namespace flashsale::admin::testing {

BusySale::BusySale() {
  sale_.add_item(kHot, 2000, 300);
  sale_.add_item("hoodies", 500, 600);
  sale_.add_item("caps", 5000, 600);
  for (int i = 0; i < 2000; ++i) sale_.place(kHot, QStringLiteral("early-%1").arg(i));
  sale_.fill_line(kHot, 100000);
  for (int i = 0; i < 420; ++i) sale_.place("hoodies", QStringLiteral("h-%1").arg(i));
  for (int i = 0; i < 1800; ++i) sale_.place("caps", QStringLiteral("c-%1").arg(i));
  for (int i = 0; i < 300; ++i) sale_.confirm("caps", sale_.item("caps").leases.front().order);
}

QJsonObject BusySale::next() {
  while (queue_.empty()) {
    const int step = step_++;
    Sale::Events events;
    switch (step % 8) {
      case 0:
      case 4:
        events = sale_.place(kHot, QStringLiteral("late-%1").arg(step));
        break;
      case 1:
      case 5:
        events = sale_.expire(kHot);
        break;  // a lease runs out, the head is promoted
      case 2:
        events = sale_.place("caps", QStringLiteral("c2-%1").arg(step));
        break;
      case 3:
        if (!sale_.item(kHot).leases.empty()) {
          events = sale_.confirm(kHot, sale_.item(kHot).leases.back().order);
        }
        break;
      case 6:
        events = sale_.place("hoodies", QStringLiteral("h2-%1").arg(step));
        break;
      case 7:
        if (!sale_.item("caps").leases.empty()) {
          events = sale_.confirm("caps", sale_.item("caps").leases.front().order);
        }
        break;
    }
    queue_.insert(queue_.end(), events.begin(), events.end());
  }
  QJsonObject e = queue_.front();
  queue_.pop_front();
  return e;
}

}  // namespace flashsale::admin::testing
