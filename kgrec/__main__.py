"""``python -m kgrec`` runs the command-line interface."""

import sys

from kgrec.cli import main

sys.exit(main())
