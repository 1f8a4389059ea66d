"""API keys: let other systems use Counting House through the REST API. A key is shown once; its scopes
(<resource>:<action>) are picked per resource."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.apikeys import SCOPE_RESOURCES, SCOPES, create_key, list_keys, revoke_key, scopes_by_resource
from ui.confirm import confirm
from ui.state import actor, page_header, run_action, session

me = actor()
ss = st.session_state
ss.setdefault("apikeys_gen", 0)
page_header("API keys", "Keys let your other systems — a product backend, a data warehouse job, a CRM — use "
            "Counting House through the REST API (send usage events, create customers and contracts, read and "
            "approve invoices; the full list is at /docs on the API server). Give each system its own key with only "
            "the scopes it needs, and revoke a key as soon as it is no longer used or may have leaked.")
st.info("A key is shown **once**, when it is created: Counting House keeps only a one-way hash of it, so nobody — "
        "not even an admin — can see it again. Lost a key? Revoke it and create a new one.", icon=":material/lock:")

if flash := ss.pop("apikeys_flash", None):
    st.success(flash, icon=":material/check_circle:")

new_secret = ss.pop("apikeys_secret", None)
if new_secret:
    name, secret = new_secret
    st.subheader(f"Your new key: {name}")
    st.warning("Copy this key now and store it in the other system's secret store. **It will not be shown "
               "again** — once you leave or reload this page it is gone.", icon=":material/warning:")
    st.code(secret, language=None)
    st.caption(f"Send it as a header: `Authorization: Bearer {secret[:12]}…`")


def _when(value) -> str:
    return value.strftime("%d %b %Y %H:%M") if value else "—"


with session() as s:
    keys = [{"id": k.id, "name": k.name, "prefix": k.prefix, "scopes": list(k.scopes or []),
             "created": k.created_at, "created_by": k.created_by, "last_used": k.last_used_at,
             "revoked": k.revoked_at} for k in list_keys(s, me)]

st.subheader("Keys")
if keys:
    st.dataframe(pd.DataFrame([{
        "Name": k["name"], "Starts with": f"{k['prefix']}…", "Scopes": ", ".join(k["scopes"]),
        "Created": f"{_when(k['created'])} by {k['created_by']}", "Last used (UTC)": _when(k["last_used"]),
        "Status": f"revoked {_when(k['revoked'])}" if k["revoked"] else "active"} for k in keys]),
        hide_index=True, width="stretch")
    st.caption("“Last used” is updated at most once a minute. Times are UTC.")
else:
    st.info("No API keys yet. Create one below when a system needs to use the API.", icon=":material/key:")

if not me.can("users:write"):
    st.caption("Only an admin can create or revoke keys.")
    st.stop()


create, revoke = st.columns(2, gap="large")
with create:
    st.subheader("Create a key")
    with st.form(f"apikeys_new_{ss['apikeys_gen']}"):
        name = st.text_input("Name", placeholder="for example product backend",
                             help="Which system uses it, so you know what breaks when you revoke it.")
        st.markdown("**Scopes** — what the key may do, per resource. Most systems that only send usage need "
                    "just *Usage events: write*.")
        by_resource = scopes_by_resource()
        scopes = []
        for resource, label in SCOPE_RESOURCES.items():
            picked = st.multiselect(label, by_resource[resource], default=["usage:write"] if resource == "usage"
                                    else [], format_func=lambda x: x.partition(":")[2],
                                    key=f"apikeys_scopes_{resource}_{ss['apikeys_gen']}", placeholder="no access",
                                    help="  \n".join(f"**{x.partition(':')[2]}** ({x}): {SCOPES[x]}"
                                                     for x in by_resource[resource]))
            scopes.extend(picked)
        if st.form_submit_button("Create the key", type="primary"):
            def _create(s):  # noqa: ANN001, ANN202 - the session run_action opens
                key, secret = create_key(s, me, name, scopes)
                return key.name, secret

            made = run_action(_create)
            if made:
                ss["apikeys_secret"] = made
                ss["apikeys_gen"] += 1
                st.rerun()
with revoke:
    st.subheader("Revoke a key")
    active = {k["id"]: f"{k['name']} ({k['prefix']}…)" for k in keys if not k["revoked"]}
    if not active:
        st.caption("There is no active key to revoke.")
    else:
        pick = st.selectbox("Key", list(active), format_func=active.__getitem__, key="apikeys_pick")
        if st.button("Revoke…", icon=":material/block:", key="apikeys_revoke_btn"):
            ss["apikeys_revoke"] = pick
if (k := next((x for x in keys if x["id"] == ss.get("apikeys_revoke")), None)) is not None:
    confirm("Revoke this API key?", "apikeys_revoke",
            f"**{k['name']}** ({k['prefix']}…). Every request with this key will be refused from now on; the system "
            "using it stops sending usage until it gets a new key. This cannot be undone.",
            yes_label="Revoke the key", action=lambda: run_action(lambda s: revoke_key(s, me, k["id"])),
            flash_key="apikeys_flash", done=f"The key {k['name']} is revoked.")
