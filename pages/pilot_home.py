"""Pilot plan (being built)."""
from __future__ import annotations

import streamlit as st

from ui.state import actor, page_header

me = actor()
page_header("Pilot plan", "Being built: the plan of the pilot, its success criteria, data flows, samples and sign-off report.")
st.info("This page is being built.")
