"""Stage 4: the CLI, the Python API facade, RAG answers and the Streamlit UI."""
