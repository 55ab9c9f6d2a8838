"""Get started: how to send a model's predictions to Vigil (also shown while no model exists)."""

from __future__ import annotations

import streamlit as st

from dashboard import data

GETTING_STARTED = "Send your first predictions"

REGISTER = """\
export VIGIL_TOKEN=...   # printed by `vigil serve` on its first start
curl -X PUT {base}/api/v1/models/churn \\
  -H "Authorization: Bearer $VIGIL_TOKEN" -H "Content-Type: application/json" \\
  -d '{{"task": "binary", "positive_class": 1,
       "features": {{"age": "numeric", "plan": "categorical"}}}}'
"""

PREDICT = """\
curl -X POST {base}/api/v1/models/churn/predictions \\
  -H "Authorization: Bearer $VIGIL_TOKEN" -H "Content-Type: application/json" \\
  -d '{{"records": [{{"event_id": "e-1", "version": "1", "prediction": 1, "score": 0.83,
                    "latency_ms": 12.5, "features": {{"age": 42, "plan": "pro"}}}}]}}'

# later, when the truth is known:
curl -X POST {base}/api/v1/models/churn/labels \\
  -H "Authorization: Bearer $VIGIL_TOKEN" -H "Content-Type: application/json" \\
  -d '{{"records": [{{"event_id": "e-1", "label": 0}}]}}'
"""

SDK = """\
from collectors.client import Monitor

monitor = Monitor("{base}", token, "churn", task="binary", positive_class=1, version="1")
event_id = monitor.log_prediction({{"age": 42, "plan": "pro"}}, 1, score=0.83, latency_ms=12.5)
monitor.log_label(event_id, 0)   # whenever the label arrives
monitor.close()                  # sends what is buffered (also runs at exit)
"""


def base_url() -> str:
    """The server's address as a browser on this host reaches it."""
    settings = data.runtime().settings
    # A wildcard listen address is not one a browser can open: show localhost instead.
    local = ("127.0.0.1", "::1", "0.0.0.0", "::")  # noqa: S104
    host = "localhost" if settings.host in local else settings.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.port}"


def render(no_models: bool) -> None:
    """The getting-started guide; `no_models` adds a note that the database is empty."""
    base = base_url()
    st.title(GETTING_STARTED)
    if no_models:
        st.info(
            "No models are registered yet. Register one and send it predictions; "
            "this page turns into the overview as soon as the first model exists.",
            icon=":material/info:",
        )
    st.markdown(
        f"Vigil is running: its health check is at [{base}/api/v1/health]"
        f"({base}/api/v1/health). Every other API call needs the API token that "
        "`vigil serve` printed when it first started (or one you set with "
        "`VIGIL_API_TOKEN`; `vigil token` makes a new one)."
    )
    st.subheader("1. Register a model")
    st.code(REGISTER.format(base=base), language="bash")
    st.subheader("2. Send predictions and labels")
    st.code(PREDICT.format(base=base), language="bash")
    st.subheader("Or log from Python with the SDK")
    st.code(SDK.format(base=base), language="python")
    st.subheader("Just looking?")
    st.markdown(
        "Run `make demo` (or `vigil demo`): it loads a demo model with 30 days of history "
        "and keeps sending live traffic, so every chart has something to show."
    )


if __name__ == "__main__":
    render(no_models=False)
