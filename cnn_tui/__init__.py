"""cnn-tui: CNN image-classification experiments from a terminal app or a headless CLI."""

__version__ = "0.1.0"
