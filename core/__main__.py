from acumbamail_smtp.cli import main
import sys

sys.exit(main())
