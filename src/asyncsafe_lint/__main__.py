import sys

from asyncsafe_lint.cli import main

sys.exit(main())
