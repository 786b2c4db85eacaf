import sys

from bnpl_load_check.cli import main

sys.exit(main())
