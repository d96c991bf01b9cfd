"""Widgets of the cnn-tui screens (one module each; import them directly)."""
