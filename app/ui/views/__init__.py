"""One Streamlit script per page (run by ``st.navigation`` in ``app/ui/main.py``)."""
