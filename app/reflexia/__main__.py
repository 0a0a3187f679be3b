"""``python -m reflexia``."""

from __future__ import annotations

import sys

from reflexia.cli import main

sys.exit(main())
