"""``python -m toolkit.web``: the web app's command lives in toolkit.app.web."""

import sys

from toolkit.app.web import main

if __name__ == "__main__":
    sys.exit(main())
