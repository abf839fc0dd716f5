"""Readers that turn user documents into text the model can read."""
