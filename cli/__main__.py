"""`python -m cli …` runs the same CLI as the `slipway` script."""

import sys

from cli.main import main

sys.exit(main())
