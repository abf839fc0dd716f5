"""Core logic of Gemma Desktop; pure Python, never imports Qt."""
