"""Gemma Desktop: offline chat with local Gemma models about documents, code and dashboards."""

__version__ = "0.1.0"
