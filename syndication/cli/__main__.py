"""``python -m syndication.cli``: the ``syndication`` command."""

import sys

from syndication.cli import main

sys.exit(main())
