"""Startup and idle-memory benchmark for the Streamlit app on the seeded demo dataset.

Measures, on a fresh copy of the demo database:
  1. seconds from process start until the first page answers (health endpoint OK and, in headless
     Chromium, the sign-in form is on screen), and until a signed-in Overview page has rendered;
  2. the server's resident memory (RSS, MiB) after the pages were served and it idled for a few seconds.
Floor, measured in the same run: the time for `python -c "import streamlit"` (the cost we cannot avoid).

Run: .venv/bin/python bench/startup.py   (needs Debian chromium and the playwright package)
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        pids += [int(p) for p in out]
    except FileNotFoundError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def start_server(script: str, port: int, env: dict) -> subprocess.Popen:
    launcher = ["-m", "ui.serve"] if script == "app.py" else ["-m", "streamlit", "run", script]
    return subprocess.Popen([PY, *launcher, "--server.headless", "true",
                             "--server.address", "127.0.0.1", "--server.port", str(port),
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_healthy(url: str, t_start: float) -> float:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return time.perf_counter() - t_start
        except OSError:
            time.sleep(0.05)
        if time.perf_counter() - t_start > 60:
            raise SystemExit("the app did not answer within 60 s")


def floor_first_form(browser, env: dict) -> float:
    """Seconds from process start until a bare Streamlit page shows the same sign-in form."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    t_start = time.perf_counter()
    proc = start_server("bench/floor_app.py", port, env)
    try:
        wait_healthy(url, t_start)
        page.goto(url)
        page.get_by_role("textbox", name="Username").wait_for(timeout=30000)
        return time.perf_counter() - t_start
    finally:
        page.close()
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="ch-bench-"))
    db = tmp / "demo.db"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "CH_PASSWORD": "bench-password-123"}
    subprocess.run([PY, "-m", "cli", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    subprocess.run([PY, "-m", "cli", "create-admin", "bench"], cwd=ROOT, env=env, check=True, capture_output=True)

    t0 = time.perf_counter()
    subprocess.run([PY, "-c", "import streamlit"], check=True)
    floor = time.perf_counter() - t0

    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with sync_playwright() as pw:
        # The browser starts first: its own launch time is not the app's.
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        floor_form = floor_first_form(browser, env)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        t_start = time.perf_counter()
        proc = start_server("app.py", port, env)
        try:
            t_health = wait_healthy(url, t_start)
            page.goto(url)
            page.get_by_role("textbox", name="Username").wait_for(timeout=30000)
            t_first = time.perf_counter() - t_start
            page.get_by_role("textbox", name="Username").fill("bench")
            page.get_by_role("textbox", name="Password").fill("bench-password-123")
            page.get_by_role("button", name="Sign in").click()
            page.get_by_text("Next steps").first.wait_for(timeout=30000)
            t_home = time.perf_counter() - t_start
            for name in ("Customers", "Contracts", "Usage", "Invoices"):
                page.get_by_role("link", name=name).first.click()
                page.wait_for_load_state("networkidle")
            browser.close()
            time.sleep(5)
            idle = rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"floor: import streamlit          {floor:6.2f} s")
    print(f"floor: bare Streamlit sign-in    {floor_form:6.2f} s after process start (same browser, same form)")
    print(f"health endpoint OK              {t_health:6.2f} s after process start")
    print(f"first page (sign-in form shown) {t_first:6.2f} s after process start   (target <= 3 s; "
          f"{t_first / floor_form:.2f}x the floor)")
    print(f"signed-in Overview rendered     {t_home:6.2f} s after process start")
    print(f"idle RSS after serving pages    {idle:6.0f} MiB                     (target < 250 MiB)")


if __name__ == "__main__":
    main()
