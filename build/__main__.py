"""``python -m build <step> --help``: the command line lives in build/cli.py, each step in its own module."""

import sys

from build.cli import main

if __name__ == "__main__":
    sys.exit(main())
