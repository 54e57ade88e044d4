import sys

from dukcapil_intake.agencies.cli import main

sys.exit(main())
