import sys

from vmr.app.cli import main

sys.exit(main())
