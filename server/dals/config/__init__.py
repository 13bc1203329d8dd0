"""Configuration: every `DALS_*` environment variable declared once (`env_vars.py`) and the
runtime settings derived from them (`settings.py`). Imports no other layer."""
