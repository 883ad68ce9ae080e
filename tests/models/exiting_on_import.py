"""A module that ends the process when imported (for the sys.exit tests)."""

import sys

sys.exit(2)
