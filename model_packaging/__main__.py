import sys

from model_packaging.cli import main

sys.exit(main())
