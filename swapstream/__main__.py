import sys

from swapstream.cli import main

sys.exit(main())
