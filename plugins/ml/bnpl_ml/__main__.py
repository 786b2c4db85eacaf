from bnpl_ml.cli import main

raise SystemExit(main())
