"""The REST API (FastAPI): usage ingestion with API-key auth. Run it with
``.venv/bin/uvicorn api.main:app --host 127.0.0.1 --port 8000`` (see api/main.py)."""
