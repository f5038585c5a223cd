"""``python -m session_service`` is the ``session-service`` command."""

from session_service.cli import main

raise SystemExit(main())
