"""``python -m cnn_tui``: the same as the ``cnn-tui`` command."""

from cnn_tui.cli import main

raise SystemExit(main())
