// See invariants.hpp. Each check is a query that returns the offending rows as text.
#include "support/invariants.hpp"

#include <flashsale/pg/connection.hpp>

namespace flashsale::test {
namespace {

struct Check {
  const char* name;
  const char* sql;  // one text column per violation
};

const Check kChecks[] = {
    {"1. available >= 0", "SELECT id FROM items WHERE available < 0"},
    {"2. available + active + consumed == total_stock",
     "SELECT i.id || ': available ' || i.available || ' + held ' || count(r.id) || ' != total ' "
     "|| i.total_stock FROM items i LEFT JOIN reservations r ON r.item_id = i.id AND r.status IN "
     "('active', 'consumed') GROUP BY i.id HAVING i.available + count(r.id) <> i.total_stock"},
    {"2b. the sold counter matches the consumed leases",
     "SELECT i.id || ': confirmed ' || i.confirmed || ' != sold ' || count(r.id) FROM items i "
     "LEFT JOIN reservations r ON r.item_id = i.id AND r.status = 'consumed' GROUP BY i.id "
     "HAVING i.confirmed <> count(r.id)"},
    {"3. no idle stock while people wait",
     "SELECT i.id FROM items i WHERE i.available > 0 AND EXISTS (SELECT 1 FROM orders o "
     "WHERE o.item_id = i.id AND o.status = 'waiting')"},
    {"3b. the waiting counter matches the line",
     "SELECT i.id FROM items i WHERE i.waiting <> (SELECT count(*) FROM orders o "
     "WHERE o.item_id = i.id AND o.status = 'waiting')"},
    // Per item: every order granted from the line (lease later than the order) and every
    // order granted on arrival (lease as old as the order) must be ahead of every waiter.
    {"4. promotion is FIFO and a newcomer never overtakes a waiter",
     "SELECT o.item_id || ': waiter seq ' || min(o.waitlist_seq) FILTER (WHERE o.status = "
     "'waiting') || ' is behind granted seq ' || max(o.waitlist_seq) FILTER (WHERE r.id IS NOT "
     "NULL) FROM orders o LEFT JOIN reservations r ON r.order_id = o.id GROUP BY o.item_id "
     "HAVING min(o.waitlist_seq) FILTER (WHERE o.status = 'waiting') < "
     "max(o.waitlist_seq) FILTER (WHERE r.id IS NOT NULL)"},
    {"5. reservation status matches order status",
     "SELECT o.id || ' is ' || o.status || ' with lease ' || coalesce(r.status, 'none') FROM "
     "orders o LEFT JOIN reservations r ON r.order_id = o.id WHERE (o.status = 'reserved') <> "
     "(r.status IS NOT DISTINCT FROM 'active') OR (o.status = 'confirmed') <> "
     "(r.status IS NOT DISTINCT FROM 'consumed') OR (o.status = 'waiting' AND r.id IS NOT NULL)"},
    {"6. per-user limit",
     "SELECT o.user_id || ' holds ' || count(*) || ' of ' || o.item_id FROM orders o JOIN items i "
     "ON i.id = o.item_id WHERE o.status IN ('waiting', 'reserved', 'confirmed') GROUP BY "
     "o.user_id, o.item_id, i.per_user_limit HAVING count(*) > i.per_user_limit"},
    {"7. idempotency records point at the same user's order of the same item",
     "SELECT k.user_id || '/' || k.key FROM idempotency_records k LEFT JOIN orders o ON "
     "o.id = k.order_id WHERE o.id IS NULL OR o.user_id <> k.user_id OR o.item_id <> k.item_id "
     "OR k.response IS NULL OR (k.response ->> 'id')::uuid <> o.id"},
    {"7b. every order came from exactly one idempotency record",
     "SELECT o.id FROM orders o LEFT JOIN idempotency_records k ON k.order_id = o.id "
     "GROUP BY o.id HAVING count(k.key) <> 1"},
};

}  // namespace

std::vector<std::string> invariant_violations(const std::string& url) {
  pg::Connection conn(url);
  std::vector<std::string> violations;
  for (const auto& check : kChecks) {
    const auto rows = conn.exec(check.sql);
    for (int r = 0; r < rows.rows(); ++r) {
      violations.push_back(std::string(check.name) + ": " + std::string(rows.get(r, 0)));
    }
  }
  return violations;
}

}  // namespace flashsale::test
