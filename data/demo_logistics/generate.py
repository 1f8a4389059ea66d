"""Regenerates the logistics demo's customers.csv and usage_2026-10.csv deterministically.

Meridian Freight Cloud B.V. (Rotterdam, invoicing in euros) runs a transport-management platform for 15 European
and American shippers: shipments booked per lane, parcel labels by service level, tracking API requests, pallets in
its warehouses, freight invoices audited (a percentage of their value) and customs declarations.

Run: python data/demo_logistics/generate.py  — the files are committed; the seed (core/demo.py) reads them.
"""
import csv
import random
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
MONTH = "2026-10"
START = datetime(2026, 10, 1)
rng = random.Random(20261003)

# id, name, email, street, city, region, postal code, country, currency, tax id, scale, ships outside the EU
CUSTOMERS = [
    ("HOLLANDIA-001", "Hollandia Fresh B.V.", "crediteuren@hollandia-fresh.example", "Marconistraat 16", "Rotterdam", "", "3029 AK", "NL", "EUR", "NL 812345678B01", 6, False),
    ("RHEINRAD-002", "Rheinrad GmbH", "rechnungen@rheinrad.example", "Rheinallee 5", "Düsseldorf", "", "40545", "DE", "EUR", "DE 314159265", 5, False),
    ("LUMIERE-003", "Atelier Lumière SARL", "compta@atelier-lumiere.example", "12 Rue de la Paix", "Paris", "", "75002", "FR", "EUR", "FR 40123456789", 3, False),
    ("BRUGGE-004", "Brugge Chocolatiers NV", "boekhouding@brugge-choc.example", "Markt 7", "Bruges", "", "8000", "BE", "EUR", "BE 0123456789", 2, False),
    ("THAMES-005", "Thames Home Goods Ltd", "accounts@thameshome.example", "1 Canada Square", "London", "", "E14 5AB", "GB", "GBP", "GB 987654321", 4, True),
    ("NORDKAPP-006", "Nordkapp Outdoor AB", "faktura@nordkapp.example", "Sveavägen 44", "Stockholm", "", "111 34", "SE", "EUR", "SE 556677889901", 3, False),
    ("PORTOCER-007", "Porto Ceramics Lda", "contabilidade@portoceramics.example", "Rua de Santa Catarina 112", "Porto", "", "4000-442", "PT", "EUR", "PT 501234567", 2, False),
    ("IBERSPICE-008", "Iberia Spices SL", "facturas@iberiaspices.example", "Calle de Alcalá 21", "Madrid", "", "28014", "ES", "EUR", "ES B12345678", 4, False),
    ("ALPENPHARMA-009", "Alpen Pharma AG", "kreditoren@alpenpharma.example", "Bahnhofstrasse 3", "Basel", "", "4051", "CH", "EUR", "CHE-123.456.789", 5, True),
    ("LAKESHORE-010", "Great Lakes Furniture Inc", "ap@greatlakesfurniture.example", "233 S Wacker Dr", "Chicago", "IL", "60606", "US", "USD", "", 3, True),
    ("TULPEN-011", "Amsterdam Florals B.V.", "administratie@amsterdamflorals.example", "Singel 610", "Amsterdam", "", "1017 AZ", "NL", "EUR", "NL 823456789B01", 4, False),
    ("DUNA-012", "Duna Auto Parts Kft", "szamla@duna-autoparts.example", "Váci út 22", "Budapest", "", "1132", "HU", "EUR", "HU 12345678", 2, False),
    ("MILANOMODA-013", "Milano Moda Srl", "amministrazione@milanomoda.example", "Via Montenapoleone 8", "Milan", "", "20121", "IT", "EUR", "IT 01234567890", 3, False),
    ("BALTEL-014", "Baltic Electronics UAB", "saskaitos@baltel.example", "Gedimino pr. 9", "Vilnius", "", "01103", "LT", "EUR", "LT 100001234567", 1, False),
    ("CELTIC-015", "Celtic Spirits Exports Ltd", "accounts@celticspirits.example", "Grand Canal Quay 4", "Dublin", "", "D02 XY12", "IE", "EUR", "IE 9876543W", 2, True),
]
HEADER = ["idempotency_key", "customer_external_id", "event_name", "timestamp", "quantity", "lane", "service"]
HUBS = ["NLRTM", "DEHAM", "BEANR", "FRPAR", "DEDUS", "ITMIL", "ESMAD", "PLWAW", "GBLON", "USCHI"]


def timestamps(rows: list[list]) -> None:
    """Each customer's events spread over the month (with jitter), the file in time order."""
    per: dict[str, list[list]] = {}
    for r in rows:
        per.setdefault(r[1], []).append(r)
    for mine in per.values():
        rng.shuffle(mine)
        for i, r in enumerate(mine):
            r[3] = (START + timedelta(seconds=int((31 * 86400 - 1) * (i + rng.random()) / len(mine)))
                    ).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows.sort(key=lambda r: (r[3], r[0]))


def main() -> None:
    with open(HERE / "customers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["external_id", "name", "email", "address_line1", "city", "region", "postal_code", "country",
                    "currency", "tax_id", "timezone", "payment_terms_days"])
        for c in CUSTOMERS:
            w.writerow([*c[:10], "America/Chicago" if c[7] == "US" else "Europe/Amsterdam", 14 if c[10] <= 2 else 30])
    rows: list[list] = []

    def add(cust: str, event: str, qty, lane: str = "", service: str = "") -> None:
        rows.append([f"evt-{MONTH}-{len(rows) + 1:06d}", cust, event, None, qty, lane, service])

    for cid, *_rest, scale, export in CUSTOMERS:
        lanes = [f"{a}-{b}" for a, b in zip(rng.sample(HUBS, 4), rng.sample(HUBS, 4)) if a != b]
        for _ in range(80 + 60 * scale):  # shipments booked (counted), by lane
            add(cid, "shipment_booked", "", lane=rng.choice(lanes))
        for _ in range(60 + 25 * scale):  # label print batches, by service level
            add(cid, "label", rng.randint(5, 60), service=rng.choice(["standard", "standard", "express"]))
        for _ in range(30 + 10 * scale):  # tracking API requests, hourly batches
            add(cid, "tracking_request", rng.randint(50, 900) * scale)
        for day in range(31):  # pallets in storage, a snapshot a day
            add(cid, "pallet_snapshot", 20 * scale + rng.randint(0, 40 * scale) + day)
        for _ in range(10 + 4 * scale):  # carriers' freight invoices audited, their value in euros
            add(cid, "freight_invoice", f"{rng.randint(400, 9000)}.{rng.randint(0, 99):02d}")
        if export:
            for _ in range(10 + 8 * scale):  # customs declarations (counted)
                add(cid, "customs_declaration", "")
    timestamps(rows)
    with open(HERE / f"usage_{MONTH}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        w.writerows(rows)
    print(f"{len(CUSTOMERS)} customers, {len(rows)} events")


if __name__ == "__main__":
    main()
