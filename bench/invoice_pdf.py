"""A 100-line invoice to PDF (target ≤ 1 s), in a warm process as the background worker renders them.

Builds, through the real services on a fresh SQLite file, a seller and a customer and a one-off invoice of 100
lines (each with a description and a "how it was calculated" breakdown), approves it, then times
``core.documents.render.invoice_pdf`` — context from the database, the seller's template, WeasyPrint — five
times after one untimed warm-up (fonts and WeasyPrint's first-use set-up), reporting the median and the worst.
Floor, in the same run: WeasyPrint alone rendering a bare HTML table of the same 100 rows (no stylesheet, no
database), also warm.

    .venv/bin/python bench/invoice_pdf.py [--lines 100] [--runs 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _timed(fn, runs: int) -> list[float]:  # noqa: ANN001
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from core.auth import SYSTEM
    from core.catalog import create_entity
    from core.customers import create_customer
    from core.db import make_engine, session_scope, upgrade
    from core.documents.render import invoice_pdf, render_pdf
    from core.invoicing.drafts import create_one_off_invoice
    from core.invoicing.service import approve_invoice

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        with session_scope(engine) as s:
            create_entity(s, SYSTEM, name="Northwind Cloud, Inc.", invoice_prefix="NW-", address="500 Howard St")
            cust = create_customer(s, SYSTEM, {"external_id": "ACME-001", "name": "Acme Analytics",
                                               "currency": "USD", "address_line1": "100 Market St",
                                               "city": "San Francisco", "region": "CA", "country": "US"})
            lines = [{"description": f"Compute units, cluster {i:03d} (eu-west-{i % 3 + 1})",
                      "quantity": str(1000 + 37 * i), "unit_price": f"0.{i % 9 + 1}25"} for i in range(args.lines)]
            inv = create_one_off_invoice(s, SYSTEM, customer_id=cust.id, lines=lines)
            approve_invoice(s, SYSTEM, inv.id)
            inv_id = inv.id

        def ours() -> bytes:
            with session_scope(engine) as s:
                return invoice_pdf(s, inv_id)

        rows = "".join(f"<tr><td>{ln['description']}<br>{ln['quantity']} × ${ln['unit_price']}</td>"
                       f"<td>{ln['quantity']}</td><td>$1,234.56</td></tr>" for ln in lines)
        bare = f"<html><body><table>{rows}</table></body></html>"
        pdf = ours()
        from weasyprint import HTML

        from core.documents.render import invoice_html

        with session_scope(engine) as s:
            pages = len(HTML(string=invoice_html(s, inv_id)).render().pages)
        floor = _timed(lambda: render_pdf(bare), args.runs)
        mine = _timed(ours, args.runs)
        engine.dispose()
    med, worst, fmed = statistics.median(mine), max(mine), statistics.median(floor)
    print(f"{args.lines}-line invoice: {len(pdf):,} bytes, {pages} pages")
    print(f"floor (bare table, WeasyPrint only): median {fmed:.3f} s")
    print(f"ours (context + template + PDF):     median {med:.3f} s, worst {worst:.3f} s "
          f"({med / fmed:.2f}× floor) — target ≤ 1 s: {'met' if worst <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
