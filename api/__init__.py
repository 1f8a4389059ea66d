"""The REST API (FastAPI): usage ingestion with API-key auth. Run it with
``make api`` (see api/main.py)."""
