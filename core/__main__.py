"""``python -m acumbamail_smtp``: the same as the ``acumbamail-smtp`` command."""

import sys

from acumbamail_smtp.cli import main

sys.exit(main())
