"""The pure domain: config, presets, data, models, engine, results. No Textual here,
and no TensorFlow at import time (it is imported inside the functions that need it)."""
