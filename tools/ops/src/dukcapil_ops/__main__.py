import sys

from dukcapil_shared.ops.cli import main

sys.exit(main())
