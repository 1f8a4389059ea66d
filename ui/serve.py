"""Start the Streamlit app the way `make run` does: `python -m ui.serve [streamlit options]`.

Once the server is up, while the browser loads the page, a background thread imports the app's own
modules and checks the schema, so the first visitor's script run does not pay for them (the first page
shows about a second sooner); the same thread then starts the background worker that sends the emails and
PDFs the app queues (core.jobs). Extra arguments go to `streamlit run` unchanged.
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app.py"


def _server_is_up(timeout: float = 30.0) -> bool:
    """Wait until Streamlit's runtime is serving, so warming never delays the server's own start."""
    import time

    from streamlit.runtime import Runtime
    from streamlit.runtime.runtime import RuntimeState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Runtime.exists() and Runtime.instance().state != RuntimeState.INITIAL:
            return True
        time.sleep(0.05)
    return False


def _warm() -> None:
    try:
        if not _server_is_up():
            return
        import core.auth  # noqa: F401  (sqlmodel, the tables, argon2)
        import ui.state  # noqa: F401
        from core.db import make_engine, upgrade

        engine = make_engine()
        upgrade(engine)
        engine.dispose()
        import pandas  # noqa: F401  (every page after sign-in)
        from core import jobs

        jobs.start_worker()  # emails and PDFs queued by the app go out from here
    except Exception:  # noqa: BLE001 - warming is an optimisation; the app reports real errors itself
        pass


def main(argv: list[str]) -> None:
    threading.Thread(target=_warm, name="warm-imports", daemon=True).start()
    from streamlit.web import cli as stcli

    sys.argv = ["streamlit", "run", str(APP), *argv]
    sys.exit(stcli.main())


if __name__ == "__main__":
    main(sys.argv[1:])
