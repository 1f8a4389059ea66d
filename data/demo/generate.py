"""Regenerates the demo pilot dataset (customers.csv, usage_2026-10.csv) deterministically.

Run: python data/demo/generate.py  — the files are committed; the seed reads them.
"""
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
rng = random.Random(20261001)

CUSTOMERS = [
    ("ACME-001", "Acme Analytics", "billing@acme-analytics.example", "100 Market St", "San Francisco", "CA", "94105", "US"),
    ("GLOBEX-002", "Globex Logistics", "ap@globex.example", "12 Harbour Rd", "Seattle", "WA", "98101", "US"),
    ("INITECH-003", "Initech Software", "finance@initech.example", "4120 Freidrich Ln", "Austin", "TX", "78744", "US"),
    ("UMBRELLA-004", "Umbrella Health", "accounts@umbrella.example", "1 Raccoon Plaza", "Chicago", "IL", "60601", "US"),
    ("STARK-005", "Stark Robotics", "payables@stark.example", "200 Park Ave", "New York", "NY", "10166", "US"),
    ("WAYNE-006", "Wayne Media", "billing@waynemedia.example", "1007 Mountain Dr", "Newark", "NJ", "07102", "US"),
    ("HOOLI-007", "Hooli Search", "ar@hooli.example", "1600 Amphitheatre", "Mountain View", "CA", "94043", "US"),
    ("PIEDPIPER-008", "Pied Piper Storage", "money@piedpiper.example", "5230 Newell Rd", "Palo Alto", "CA", "94303", "US"),
    ("SOYLENT-009", "Soylent Foods", "finance@soylent.example", "88 Green St", "Portland", "OR", "97205", "US"),
    ("TYRELL-010", "Tyrell Biotech", "billing@tyrell.example", "2019 Spinner Way", "Los Angeles", "CA", "90012", "US"),
    ("CYBERDYNE-011", "Cyberdyne Systems", "ap@cyberdyne.example", "18144 El Camino", "Sunnyvale", "CA", "94087", "US"),
    ("MASSIVE-012", "Massive Dynamic", "accounts@massive.example", "1 Massive Way", "Boston", "MA", "02110", "US"),
    ("VANDELAY-013", "Vandelay Industries", "art@vandelay.example", "129 W 81st St", "New York", "NY", "10024", "US"),
    ("WONKA-014", "Wonka Confections", "gold@wonka.example", "1 Chocolate Ave", "Hershey", "PA", "17033", "US"),
    ("OCEANIC-015", "Oceanic Travel", "billing@oceanic.example", "815 Flight Rd", "Honolulu", "HI", "96819", "US"),
    ("DUNDER-016", "Dunder Paper Co", "accounting@dunder.example", "1725 Slough Ave", "Scranton", "PA", "18505", "US"),
    ("GRINGOTTS-017", "Gringotts Payments", "vault@gringotts.example", "7 Diagon Alley", "London", "", "EC1A 1AA", "GB"),
    ("NAKATOMI-018", "Nakatomi Trading", "finance@nakatomi.example", "2121 Avenue of the Stars", "Los Angeles", "CA", "90067", "US"),
    ("BLUTH-019", "Bluth Homes", "money@bluth.example", "1 Sudden Valley", "Newport Beach", "CA", "92660", "US"),
    ("KRUSTY-020", "Krusty Kitchens", "orders@krusty.example", "831 Bikini Bottom", "Springfield", "IL", "62701", "US"),
]

# customer -> events to generate for October 2026: (event, count range, quantity generator, properties)
START = datetime(2026, 10, 1)


def ts(i: int, n: int) -> str:
    t = START + timedelta(seconds=int((31 * 86400 - 1) * (i + rng.random()) / max(n, 1)))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    with open(HERE / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name", "email", "address_line1", "city", "region", "postal_code", "country",
                    "currency", "payment_terms_days"])
        for c in CUSTOMERS:
            w.writerow([*c, "GBP" if c[7] == "GB" else "USD", 30])
    rows = []
    key = 0

    def add(cust, event, qty, **props):
        nonlocal key
        key += 1
        rows.append([f"evt-2026-10-{key:06d}", cust, event, None, qty, props.get("region", ""),
                     props.get("user_id", ""), props.get("price_band", "")])

    for idx, (cid, *_rest) in enumerate(CUSTOMERS):
        scale = 1 + (idx % 5)
        # API requests: each event is a batch of calls (quantity = calls)
        for _ in range(60 + 10 * scale):
            add(cid, "api_request", rng.randint(50, 400) * scale)
        # storage snapshots, GB (max in the month is billed)
        for _ in range(31):
            add(cid, "storage_snapshot", f"{rng.randint(100, 3000) * scale / 10:.1f}")
        # data transfer by region, GB
        for _ in range(40):
            add(cid, "data_transfer", f"{rng.randint(5, 120)}.{rng.randint(0, 9)}",
                region=rng.choice(["EU-West", "US-East", "US-East"]))
        # payment volume in dollars (each event is one transaction)
        for _ in range(20 + 5 * scale):
            add(cid, "payment", f"{rng.randint(5, 900)}.{rng.randint(0, 99):02d}")
        # messages sent (counted)
        for _ in range(30 + 20 * scale):
            add(cid, "message_sent", 1)
        # logins (unique users counted)
        for _ in range(80):
            add(cid, "login", 1, user_id=f"u{rng.randint(1, 10 + 8 * scale)}")
        # compute units by price band
        for _ in range(25):
            add(cid, "compute", rng.randint(500, 4000) * scale, price_band=rng.choice(["standard", "premium"]))
    rng.shuffle(rows)
    rows.sort(key=lambda r: r[1])  # grouped by customer, then timestamps spread over the month
    per_customer: dict[str, int] = {}
    for r in rows:
        per_customer[r[1]] = per_customer.get(r[1], 0) + 1
    seen: dict[str, int] = {}
    for r in rows:
        i = seen.get(r[1], 0)
        seen[r[1]] = i + 1
        r[3] = ts(i, per_customer[r[1]])
    rows.sort(key=lambda r: r[3])
    with open(HERE / "usage_2026-10.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "region",
                    "user_id", "price_band"])
        w.writerows(rows)
    print(f"{len(CUSTOMERS)} customers, {len(rows)} events")


if __name__ == "__main__":
    main()
