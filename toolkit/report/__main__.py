"""``python -m toolkit.report``: the report commands live in toolkit.app.reports."""

import sys

from toolkit.app.reports import main

if __name__ == "__main__":
    sys.exit(main())
