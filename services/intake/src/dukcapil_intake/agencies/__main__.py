import sys

from dukcapil_intake.entrypoints.agency_cli import main

sys.exit(main())
