"""`python -m nemo_pipeline.sandbox`: run the code-execution sandbox server."""

from nemo_pipeline.sandbox._server import main

raise SystemExit(main())
