import sys

try:
    from model_packaging.cli import main
except KeyboardInterrupt:
    # Ctrl-C before the command could start: the end model_packaging.cli gives any command.
    print("error: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
