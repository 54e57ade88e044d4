import sys

from dukcapil_ops.cli import main

sys.exit(main())
