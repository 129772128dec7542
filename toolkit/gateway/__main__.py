"""``python -m toolkit.gateway``: the simulator's command lives in toolkit.app.gateway."""

import sys

from toolkit.app.gateway import main

if __name__ == "__main__":
    sys.exit(main())
