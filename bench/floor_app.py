"""The floor for bench/startup.py: a bare Streamlit page with the same sign-in widgets and nothing else."""
import streamlit as st

with st.form("sign_in"):
    st.text_input("Username")
    st.text_input("Password", type="password")
    st.form_submit_button("Sign in")
