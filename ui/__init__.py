"""Shared helpers for the Streamlit pages: the engine, the signed-in actor, one transaction per action."""
