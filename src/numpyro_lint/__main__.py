from numpyro_lint.cli import main

raise SystemExit(main())
