import sys

from aved.cli import main

sys.exit(main())
