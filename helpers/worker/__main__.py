"""``python -m helpers.worker``: the worker as a command (the command line lives in ``helpers.worker_cli``)."""
import sys

from helpers.worker_cli import main

sys.exit(main())
