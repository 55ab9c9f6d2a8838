"""The dashboard's entry script: navigation between pages."""

import streamlit as st

st.set_page_config(page_title="Vigil", page_icon=":material/monitoring:", layout="wide")
st.title("Vigil")
st.write("placeholder")
