"""PySide6 widgets and the adapters that run core work off the GUI thread."""
