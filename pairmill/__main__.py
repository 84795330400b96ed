"""`python -m pairmill ...`, which is also what `torchrun -m pairmill train ...` runs."""

import sys

from .cli import main

sys.exit(main())
