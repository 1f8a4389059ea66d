"""Every page at scale: each page of app.py's navigation (and the Overview) driven with Streamlit's AppTest on the
large database of ``bench/gen_large.py`` (10,000 customers, ~100,000 invoices, 1,000,000 usage events), signed
in as an admin, the way tests/ui/conftest.py signs a user in (the Actor in session state, then switch_page).

Per page: one warm-up run (the first run after switching: caches, imports, the engine), then ``--runs`` timed
runs of the script (``AppTest.run``: app.py's navigation + the page, as a rerun after a click costs); median and
max are reported against the target — 0.5 s a page, 1 s for the dashboards (Overview, Finance dashboard, Revenue
& usage reports). Floor, same run: a page that only writes a title, run the same way (what AppTest itself costs).

Then the page's elements are inspected for the rule "no widget is handed more than 10,000 rows or points":
rows of every ``st.dataframe`` / ``st.data_editor`` / ``st.table``, points of every plotly chart (the longest
x/y/values array of each trace, summed over traces) and of vega-lite charts, options of every selectbox,
multiselect and radio. An exception on the page is reported too. The benchmark reports; it never fails (exit 0).

    .venv/bin/python bench/pages.py                        # every page, 5 timed runs each
    .venv/bin/python bench/pages.py --pages invoices,usage --runs 10
    .venv/bin/python bench/pages.py --profile invoices      # pyinstrument of one timed run of that page
    .venv/bin/python bench/pages.py --cold                  # the first load after a change: caches dropped
    .venv/bin/python bench/pages.py --db path/to.db         # another SQLite database (copied first)
    .venv/bin/python bench/pages.py --url postgresql+psycopg://…   # a PostgreSQL database (used as it is)
    bash scripts/with_postgres.sh .venv/bin/python bench/pages.py --postgres   # built afresh on PostgreSQL
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

APP = ROOT / "app.py"
LIMIT = 10_000
DASHBOARDS = {"home", "analytics", "analytics_revenue"}
TARGET, DASHBOARD_TARGET = 0.5, 1.0
TIMEOUT = 300


def page_names() -> list[str]:
    """home + app.py's PAGES, read from its source (importing app.py would run the Streamlit app)."""
    tree = ast.parse(APP.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "PAGES" for t in node.targets):
            return ["home"] + [ast.literal_eval(elt)[1] for elt in node.value.elts]
    raise SystemExit("PAGES not found in app.py")


# --------------------------------------------------------------------------------------------------------------
# what the page hands its widgets


def _plotly_points(spec: str) -> int:
    try:
        fig = json.loads(spec)
    except ValueError:
        return 0
    total = 0
    for trace in fig.get("data", []):
        n = 0
        for key in ("x", "y", "z", "values", "labels", "lat", "lon", "r", "theta"):
            v = trace.get(key)
            if isinstance(v, list):
                n = max(n, len(v))
            elif isinstance(v, dict) and "bdata" in v:  # plotly's typed-array encoding
                shape = v.get("shape")
                if isinstance(shape, str):
                    shape = [int(x) for x in shape.split(",")]
                if shape:
                    size = 1
                    for s in shape if isinstance(shape, list) else [shape]:
                        size *= int(s)
                    n = max(n, size)
                else:
                    import base64

                    dtype = v.get("dtype", "f8")
                    width = int(dtype[-1]) if dtype[-1].isdigit() else 8
                    n = max(n, len(base64.b64decode(v["bdata"])) // width)
        total += n
    return total


def _arrow_rows(data: bytes) -> int:
    if not data:
        return 0
    import pyarrow as pa

    return pa.ipc.open_stream(data).read_all().num_rows


def widgets(at) -> list[tuple[str, str, int]]:
    """(kind, label, rows or points or options) of every element that holds data."""
    out = []
    for el in at.get("dataframe"):
        label = "data_editor" if getattr(el, "editing_mode", "read_only") != "read_only" else "dataframe"
        out.append((label, "", _arrow_rows(el.proto.arrow_data.data)))
        try:  # a selectbox column's options are handed to the widget too
            columns = json.loads(el.proto.columns or "{}")
        except ValueError:
            columns = {}
        for name, config in columns.items():
            options = ((config or {}).get("type_config") or {}).get("options")
            if isinstance(options, list):
                out.append((f"{label} column options", str(config.get("label") or name)[:40], len(options)))
    for el in at.get("table"):
        out.append(("table", "", _arrow_rows(el.proto.arrow_data.data)))
    for el in at.get("plotly_chart"):
        spec = getattr(el.proto, "spec", "") or ""
        out.append(("plotly_chart", "", _plotly_points(spec)))
    for kind in ("arrow_vega_lite_chart", "vega_lite_chart"):
        for el in at.get(kind):
            n = sum(_arrow_rows(d.data.data) for d in getattr(el.proto, "datasets", []))
            if getattr(el.proto, "data", None) is not None and el.proto.HasField("data"):
                n += _arrow_rows(el.proto.data.data)
            out.append((kind, "", n))
    for kind in ("selectbox", "multiselect", "radio"):
        for el in at.get(kind):
            out.append((kind, str(getattr(el, "label", ""))[:40], len(el.proto.options)))
    return out


# --------------------------------------------------------------------------------------------------------------
# driving the pages


def _new(page: str | None, role: str):
    from streamlit.testing.v1 import AppTest

    from core.auth import Actor

    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["actor"] = Actor(f"{role}-user", role)
    t0 = time.perf_counter()
    at.run()
    first = time.perf_counter() - t0
    if page and page != "home":
        at.switch_page(f"pages/{page}.py")
        t0 = time.perf_counter()
        at.run()
        first = time.perf_counter() - t0
    return at, first


def _errors(at) -> str:
    msgs = [str(getattr(e, "message", e.value))[:160] for e in at.exception]
    return "; ".join(m.splitlines()[0] if m else "exception" for m in msgs)


def measure(page: str, runs: int, role: str = "admin", cold: bool = False) -> dict:
    """``cold``: before each timed run one usage event arrives (a new highest event id: what the Usage page keys
    its kept aggregations on) and every cached figure is dropped (``st.cache_data.clear()``) — the first load after
    new usage, a payment, an approval or any change the pages' data version follows; stricter than one change,
    which leaves the figures that do not depend on it. The engine (``st.cache_resource``) stays."""
    import streamlit as st

    at, warm = _new(page, role)
    times, cpu = [], []
    for _ in range(runs):
        if cold:
            _new_event()
            st.cache_data.clear()
        t0, c0 = time.perf_counter(), time.process_time()
        at.run()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    w = widgets(at)
    return {"page": page, "warm": warm, "median": statistics.median(times), "max": max(times), "times": times,
            "cpu": statistics.median(cpu), "widgets": w, "error": _errors(at)}


def _new_event() -> None:
    """One more usage event (a copy of the latest, with a fresh idempotency key), committed."""
    import uuid

    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(os.environ["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO usage_event (idempotency_key, customer_external_id, event_name, timestamp, quantity, "
            "properties, source, created_at) SELECT :key, customer_external_id, event_name, timestamp, quantity, "
            "properties, source, created_at FROM usage_event WHERE id = (SELECT max(id) FROM usage_event)"),
            {"key": f"bench-{uuid.uuid4().hex}"})
    engine.dispose()


def floor(runs: int) -> dict:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("import streamlit as st\nst.title('Floor')\nst.caption('nothing else')\n",
                             default_timeout=TIMEOUT)
    at.run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
    return {"median": statistics.median(times), "max": max(times)}


def profile(page: str, role: str = "admin", cold: bool = False) -> None:
    """pyinstrument of one run of the page, in the script runner's thread (AppTest runs the script there)."""
    import streamlit as st
    from pyinstrument import Profiler
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    at, _ = _new(page, role)
    at.run()
    done = []
    orig = ScriptRunner._run_script

    def wrapped(self, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        p = Profiler(interval=0.001)
        p.start()
        try:
            return orig(self, *a, **kw)
        finally:
            p.stop()
            done.append(p)

    ScriptRunner._run_script = wrapped
    if cold:
        _new_event()
        st.cache_data.clear()
    try:
        at.run()
    finally:
        ScriptRunner._run_script = orig
    for p in done:
        print(p.output_text(unicode=True, color=False, show_all=False))


def _database(a) -> tuple[str, Path | None]:
    import gen_large

    if a.url:
        return a.url, None
    if a.postgres:
        server = os.environ.get("TEST_POSTGRES_URL")
        if not server:
            raise SystemExit("--postgres needs TEST_POSTGRES_URL: run under scripts/with_postgres.sh")
        return gen_large.build_postgres(server, a.customers, a.events), None

    src = Path(a.db) if a.db else gen_large.build(a.customers, a.events)
    work = Path(tempfile.mkdtemp(prefix="ch-pages-"))
    shutil.copyfile(src, work / "pages.db")
    return f"sqlite:///{work / 'pages.db'}", work


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", help="comma-separated page names (default: every page)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--role", default="admin")
    ap.add_argument("--db", help="a SQLite file to copy and use instead of gen_large's")
    ap.add_argument("--url", help="a database URL to use as it is (PostgreSQL)")
    ap.add_argument("--postgres", action="store_true",
                    help="build the same data into a fresh PostgreSQL database on TEST_POSTGRES_URL's server "
                         "(bash scripts/with_postgres.sh …) and drive the pages on it")
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--profile", help="print a pyinstrument profile of one run of this page and stop")
    ap.add_argument("--cold", action="store_true",
                    help="time the first load after a change: every cached figure dropped before each timed run")
    a = ap.parse_args()
    from streamlit.logger import set_log_level

    set_log_level("error")  # quiet "missing ScriptRunContext" and deprecation notes: the table is the output
    url, work = _database(a)
    os.environ["DATABASE_URL"] = url
    try:
        if a.profile:
            profile(a.profile, a.role, a.cold)
            return
        names = a.pages.split(",") if a.pages else page_names()
        fl = floor(a.runs)
        rows = []
        for name in names:
            try:
                r = measure(name, a.runs, a.role, a.cold)
            except Exception as exc:  # noqa: BLE001 - a benchmark reports, it does not stop
                nan = float("nan")
                r = {"page": name, "warm": nan, "median": nan, "max": nan, "times": [], "cpu": nan, "widgets": [],
                     "error": f"{type(exc).__name__}: {exc}"[:200]}
            rows.append(r)
            print(f"  {name:20s} warm-up {r['warm']:6.2f} s  median {r['median']:6.3f} s  max {r['max']:6.3f} s  "
                  f"CPU {r['cpu']:6.3f} s" + (f"  ERROR {r['error']}" if r["error"] else ""), flush=True)
        report(rows, fl, url, a.cold)
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def report(rows: list[dict], fl: dict, url: str, cold: bool = False) -> None:
    print()
    print(f"database: {url.split('://')[0]}; floor (a page with a title only): median {fl['median']:.3f} s, "
          f"max {fl['max']:.3f} s; " + ("COLD: every cached figure dropped before each timed run (the first load "
                                        "after a change)" if cold else "reruns (caches warm)"))
    print()
    print("| page | first run | median | max | CPU (median) | target | met | largest widget | over 10,000 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = DASHBOARD_TARGET if r["page"] in DASHBOARDS else TARGET
        met = "—" if r["median"] != r["median"] else ("yes" if r["max"] <= target else
                                                     "median only" if r["median"] <= target else "**no**")
        biggest = max(r["widgets"], key=lambda w: w[2], default=None)
        big = f"{biggest[0]} {biggest[2]:,}" if biggest else "—"
        over = [f"{k} {lab} {n:,}".replace("  ", " ") for k, lab, n in r["widgets"] if n > LIMIT]
        err = f" (error: {r['error']})" if r["error"] else ""
        print(f"| {r['page']} | {r['warm']:.2f} s | {r['median']:.3f} s | {r['max']:.3f} s | {r['cpu']:.3f} s | "
              f"≤ {target:g} s | "
              f"{met}{err} | {big} | {', '.join(over) or 'none'} |")


if __name__ == "__main__":
    main()
