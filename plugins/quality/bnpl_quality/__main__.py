import sys

from bnpl_quality.cli import main

sys.exit(main())
