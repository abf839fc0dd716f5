"""Style sheets and icons drawn for Gemma Desktop (SVG), loaded with importlib.resources."""
