"""`trainlab` with the test-only experiment registered (worker processes run it again)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import sweep_fake  # noqa: E402

from trainlab.cli import main  # noqa: E402

if __name__ == "__main__":
    sweep_fake.register()
    sys.exit(main())
