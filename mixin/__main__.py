"""``python -m mixin COMMAND ...``: the same as the installed ``mixin`` command."""

import sys

from .cli import main

sys.exit(main())
