import sys

from vmr.cli import main

sys.exit(main())
