"""The only Streamlit-aware code: widgets, component, session state and URL handling."""
