"""``python -m unmask`` runs the command-line interface."""

import sys

from unmask.cli import main

sys.exit(main())
