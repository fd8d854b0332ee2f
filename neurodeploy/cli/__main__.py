"""``python -m neurodeploy.cli``: the ``neurodeploy`` command."""
import sys

from neurodeploy.cli import main

sys.exit(main())
