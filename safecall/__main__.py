import sys

from safecall.cli import main

sys.exit(main())
