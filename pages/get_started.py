"""First invoice guide (being built)."""
from __future__ import annotations

import streamlit as st

from ui.state import actor, page_header

me = actor()
page_header("First invoice guide", "Being built: a guided path from an empty database to a first approved invoice.")
st.info("This page is being built.")
