"""Regenerates the infrastructure demo's customers.csv and usage_2026-10.csv deterministically.

Stratus Edge, Inc. sells edge requests, bandwidth, compute, object storage, functions and build minutes to 15
software companies: an API- and usage-heavy pilot (about 10,000 events a month, quantities in the millions).

Run: python data/demo_infra/generate.py  — the files are committed; the seed (core/demo.py) reads them.
"""
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
MONTH = "2026-10"
START = datetime(2026, 10, 1)
rng = random.Random(20261002)

# id, name, email, street, city, region, postal code, country, currency, tax id, scale (how much it uses)
CUSTOMERS = [
    ("QUANTA-001", "Quanta Streaming", "ap@quanta-streaming.example", "410 Terry Ave N", "Seattle", "WA", "98109", "US", "USD", "", 8),
    ("PIXELFORGE-002", "Pixelforge Games", "billing@pixelforge.example", "88 Colin P Kelly Jr St", "San Francisco", "CA", "94107", "US", "USD", "", 5),
    ("LEDGERLY-003", "Ledgerly", "finance@ledgerly.example", "1 Broadway", "Cambridge", "MA", "02142", "US", "USD", "", 3),
    ("MEDIVOX-004", "Medivox Health", "accounts@medivox.example", "600 W Chicago Ave", "Chicago", "IL", "60654", "US", "USD", "", 4),
    ("ROUTEWISE-005", "Routewise Maps", "ap@routewise.example", "500 W 2nd St", "Austin", "TX", "78701", "US", "USD", "", 6),
    ("CLOUDKITE-006", "Cloudkite", "hello@cloudkite.example", "1455 Market St", "San Francisco", "CA", "94103", "US", "USD", "", 1),
    ("NEURALNEST-007", "Neuralnest AI", "billing@neuralnest.example", "75 9th Ave", "New York", "NY", "10011", "US", "USD", "", 7),
    ("SHOPSTREAM-008", "Shopstream", "payables@shopstream.example", "150 Elgin St", "Ottawa", "ON", "K2P 1L4", "CA", "USD", "", 5),
    ("TELEMETRIQ-009", "Telemetriq", "finance@telemetriq.example", "1600 Seaport Blvd", "Redwood City", "CA", "94063", "US", "USD", "", 2),
    ("BLAUWAL-010", "Blauwal Media GmbH", "rechnung@blauwal.example", "Torstrasse 49", "Berlin", "", "10119", "DE", "EUR", "DE 811234567", 4),
    ("KRAFTWERK-011", "Kraftwerk Data GmbH", "buchhaltung@kraftwerk-data.example", "Leopoldstrasse 10", "Munich", "", "80802", "DE", "EUR", "DE 298765432", 3),
    ("TWEEDLE-012", "Tweedle Apps Ltd", "accounts@tweedle.example", "20 Farringdon Rd", "London", "", "EC1M 3HE", "GB", "GBP", "GB 123456789", 2),
    ("ORBITAL-013", "Orbital Sensors", "ap@orbital-sensors.example", "3100 Pacific Hwy", "San Diego", "CA", "92101", "US", "USD", "", 3),
    ("FINCH-014", "Finch Payments", "finance@finchpay.example", "55 Water St", "New York", "NY", "10041", "US", "USD", "", 2),
    ("DOCSMITH-015", "Docsmith", "billing@docsmith.example", "220 NW 8th Ave", "Portland", "OR", "97209", "US", "USD", "", 1),
]
HEADER = ["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "region", "machine_class",
          "project_id"]


def spread(rows: list[list]) -> None:
    """Timestamps spread evenly (with jitter) over the month, per customer, then the file sorted by time."""
    per: dict[str, list[list]] = {}
    for r in rows:
        per.setdefault(r[1], []).append(r)
    for mine in per.values():
        rng.shuffle(mine)
        n = len(mine)
        for i, r in enumerate(mine):
            t = START + timedelta(seconds=int((31 * 86400 - 1) * (i + rng.random()) / n))
            r[3] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    rows.sort(key=lambda r: (r[3], r[0]))


def main() -> None:
    with open(HERE / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name", "email", "address_line1", "city", "region", "postal_code", "country",
                    "currency", "tax_id", "payment_terms_days"])
        for c in CUSTOMERS:
            w.writerow([*c[:10], 45 if c[10] >= 6 else 30])
    rows: list[list] = []

    def add(cust: str, event: str, qty, region: str = "", machine: str = "", project: str = "") -> None:
        rows.append([f"evt-{MONTH}-{len(rows) + 1:06d}", cust, event, None, qty, region, machine, project])

    for cid, *_rest, scale in CUSTOMERS:
        for _ in range(120 + 30 * scale):  # edge requests: each event is a minute's batch from one POP
            add(cid, "edge_request", rng.randint(20_000, 400_000) * scale, region=rng.choice(["na", "na", "eu", "apac"]))
        for _ in range(60 + 5 * scale):  # bandwidth out, GB, by region
            add(cid, "bandwidth", f"{rng.randint(10, 900) * scale / 10:.1f}", region=rng.choice(["na", "eu", "apac"]))
        for _ in range(40 + 10 * scale):  # compute, vCPU-hours by machine class
            add(cid, "compute", f"{rng.randint(4, 160) * scale / 4:.2f}",
                machine=rng.choice(["standard", "standard", "high_memory"]))
        for _ in range(31):  # storage snapshots, GB (the peak or the month-end figure is billed)
            add(cid, "storage_snapshot", f"{rng.randint(200, 4000) * scale / 10:.1f}")
        for _ in range(30 + 4 * scale):  # function invocations, batched per 10 minutes
            add(cid, "function_invocation", rng.randint(5_000, 250_000) * scale)
        for _ in range(25 + 3 * scale):  # CI builds, minutes each
            add(cid, "build", rng.randint(2, 45), project=f"p{rng.randint(1, 3 + scale)}")
        for _ in range(15 + 2 * scale):  # deploys, one project each
            add(cid, "deploy", 1, project=f"p{rng.randint(1, 3 + scale)}")
    spread(rows)
    with open(HERE / f"usage_{MONTH}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    print(f"{len(CUSTOMERS)} customers, {len(rows)} events")


if __name__ == "__main__":
    main()
