import sys

from dukcapil_intake.accounts.cli import main

sys.exit(main())
