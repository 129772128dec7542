"""``python -m toolkit``: the research commands live in toolkit.app.research."""

import sys

from toolkit.app.research import main

sys.exit(main())
