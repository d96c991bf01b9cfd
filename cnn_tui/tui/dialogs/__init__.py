"""The app's modal screens, one module each: ``presets`` (save / load a preset, Setup),
``experiment`` (define a study, Setup's ctrl+e), ``export`` (write a runs table, Runs),
``columns`` (choose the runs table's config columns, Runs) and ``help`` (every key, ? / F1).
Import them from their module (``from cnn_tui.tui.dialogs.export import ExportDialog``).
"""
