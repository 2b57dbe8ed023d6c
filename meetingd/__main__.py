import sys

from meetingd.cli import main

sys.exit(main())
