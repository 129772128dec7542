"""``python -m toolkit.live``: the live commands live in toolkit.app.live."""

import sys

from toolkit.app.live import main

if __name__ == "__main__":
    sys.exit(main())
