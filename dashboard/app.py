"""The dashboard's entry script: sign-in gate and page navigation (st.App runs it)."""

from pathlib import Path

import streamlit as st

from dashboard import auth, data, runtime

PAGES = Path(__file__).with_name("views")

st.set_page_config(page_title="Vigil", page_icon=":material/monitoring:", layout="wide")

if runtime.current() is None:
    # Page scripts read the server's store; without it they would fail one by one.
    st.navigation([st.Page(PAGES / "getting_started.py", title="Get started")], position="hidden")
    st.error(data.NO_RUNTIME, icon=":material/error:")
    st.stop()

who = auth.gate()
pages = {
    "Monitoring": [
        st.Page(PAGES / "overview.py", title="Overview", icon=":material/monitoring:"),
        st.Page(PAGES / "performance.py", title="Performance", icon=":material/insights:"),
        st.Page(PAGES / "latency.py", title="Latency & traffic", icon=":material/speed:"),
        st.Page(PAGES / "drift.py", title="Drift", icon=":material/compare_arrows:"),
        st.Page(PAGES / "quality.py", title="Data quality", icon=":material/rule:"),
        st.Page(PAGES / "explanations.py", title="Explanations", icon=":material/lightbulb:"),
        st.Page(PAGES / "reports.py", title="Reports", icon=":material/summarize:"),
        st.Page(PAGES / "system.py", title="System", icon=":material/memory:"),
        st.Page(PAGES / "alerts.py", title="Alerts", icon=":material/notifications:"),
    ],
    "Help": [
        st.Page(PAGES / "getting_started.py", title="Get started", icon=":material/rocket_launch:"),
    ],
}
if who.is_admin:
    pages["Admin"] = [
        st.Page(PAGES / "admin.py", title="Access & audit", icon=":material/admin_panel_settings:")
    ]
navigation = st.navigation(pages)
auth.sidebar(who)
navigation.run()
